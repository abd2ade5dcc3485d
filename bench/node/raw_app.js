'use strict';
// The node ceiling: node's own http server sending kettle's exact response bytes
// (kettle's header set for each kind of response on the track, nothing more).

const http = require('node:http');
const c = require('./common');

const api = c.SECURE ? c.API : {};
const html = c.SECURE ? c.HELMET : {};

function send(res, type, body, extra) {
  res.writeHead(200, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';

async function handle(req, res) {
  const url = req.url;
  if (url === '/plaintext') {
    send(res, TEXT, c.MESSAGE, api);
  } else if (url === '/json' || url === '/mw/json') {
    send(res, JSON_TYPE, JSON.stringify({ message: c.MESSAGE }), api);
  } else if (url.startsWith('/users/') || url.startsWith('/route')) {
    const id = Number.parseInt(url.slice(url.lastIndexOf('/') + 1), 10);
    send(res, JSON_TYPE, JSON.stringify({ id }), api);
  } else if (url === '/db') {
    send(res, JSON_TYPE, JSON.stringify(await c.world()), api);
  } else if (url === '/fortunes') {
    send(res, 'text/html; charset=utf-8', c.renderFortunes(await c.fortunes()), html);
  } else if (url === '/io') {
    await c.sleep(c.IO_WAIT_MS);
    send(res, TEXT, c.MESSAGE, api);
  } else {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
  }
}

http
  .createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  })
  .listen(c.PORT, '127.0.0.1');
