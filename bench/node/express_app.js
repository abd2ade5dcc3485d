'use strict';
// Express 5 as its users deploy it: plain node, app.use() middleware, helmet() on the
// secure track. Everything else is Express's defaults (ETag, X-Powered-By when bare).

const express = require('express');
const helmet = require('helmet');
const c = require('./common');

const app = express();
if (c.SECURE) app.use(helmet());

app.get('/plaintext', (req, res) => {
  res.type('text').send(c.MESSAGE);
});

const json = (req, res) => {
  res.json({ message: c.MESSAGE });
};
app.get('/json', json);

const byId = (req, res, next) => {
  const id = Number.parseInt(req.params.id, 10);
  if (Number.isNaN(id)) return next();
  res.json({ id });
};
app.get('/users/:id', byId);

app.get('/db', async (req, res) => {
  res.json(await c.world());
});

app.get('/fortunes', async (req, res) => {
  res.type('html').send(c.renderFortunes(await c.fortunes()));
});

app.get('/io', async (req, res) => {
  await c.sleep(c.IO_WAIT_MS);
  res.type('text').send(c.MESSAGE);
});

// The middleware scenario: a router with ten no-op app.use() layers before json.
const deep = express.Router();
for (let i = 0; i < c.MIDDLEWARE_DEPTH; i++) deep.use((req, res, next) => next());
deep.get('/json', json);
app.use('/mw', deep);

// routes-1000: a thousand dynamic routes; the scenario requests the last one.
for (let n = 0; n < c.ROUTE_COUNT; n++) app.get(`/route${n}/:id`, byId);

app.listen(c.PORT, '127.0.0.1');
