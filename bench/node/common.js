'use strict';
// What the node apps share: the scenario data, the header sets, the track, the database.
// The same words and header values as bench/peers/_common.py, so every app answers alike.

const { Pool } = require('pg');

const TRACK = process.env.BENCH_TRACK || 'secure';
const SECURE = TRACK === 'secure';
const PORT = Number.parseInt(process.env.PORT || '8000', 10);
const MESSAGE = 'Hello, World!';
const ROUTE_COUNT = 1000;
const MIDDLEWARE_DEPTH = 10;
const IO_WAIT_MS = 50;
const WORLD_ROWS = 10000;
const WORLD_QUERY = 'SELECT id, randomnumber FROM world WHERE id = $1';
const FORTUNE_QUERY = 'SELECT id, message FROM fortune';
const ADDED_FORTUNE = 'Additional fortune added at request time.';

// Helmet 8's document set as kettle sends it over http (the peers' "secure" headers).
const HELMET = {
  'content-security-policy':
    "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; " +
    "form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; " +
    "object-src 'none'; script-src 'self'; script-src-attr 'none'; " +
    "style-src 'self' https: 'unsafe-inline'; upgrade-insecure-requests",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
// The OWASP REST set kettle sends with every response that is not HTML.
const API = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "frame-ancestors 'none'",
  'x-frame-options': 'DENY',
};

const pool = new Pool({
  connectionString:
    process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test',
  max: Number.parseInt(process.env.BENCH_POOL_SIZE || '16', 10),
});

function randomId() {
  return 1 + Math.floor(Math.random() * WORLD_ROWS);
}

async function world() {
  const { rows } = await pool.query({ name: 'world', text: WORLD_QUERY, values: [randomId()] });
  return { id: rows[0].id, randomNumber: rows[0].randomnumber };
}

async function fortunes() {
  const { rows } = await pool.query({ name: 'fortunes', text: FORTUNE_QUERY });
  rows.push({ id: 0, message: ADDED_FORTUNE });
  rows.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  return rows;
}

// The same escapes as Jinja2 (markupsafe), so the page is byte for byte the Python one.
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

function renderFortunes(rows) {
  let page =
    '<!DOCTYPE html>\n<html><head><title>Fortunes</title></head><body><table>' +
    '<tr><th>id</th><th>message</th></tr>';
  for (const row of rows) {
    page += `<tr><td>${row.id}</td><td>${escapeHtml(row.message)}</td></tr>`;
  }
  return page + '</table></body></html>';
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = {
  TRACK, SECURE, PORT, MESSAGE, ROUTE_COUNT, MIDDLEWARE_DEPTH, IO_WAIT_MS,
  HELMET, API, pool, world, fortunes, renderFortunes, sleep,
};
