'use strict';
// Fastify 5 at its best: response schemas (fast-json-stringify), typed params, plugins
// with their own hooks. Secure track: the Helmet header set from an onSend hook.

const c = require('./common');
const fastify = require('fastify')({ logger: false });

if (c.SECURE) {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(c.HELMET);
    done(null, payload);
  });
}

const message = {
  schema: {
    response: { 200: { type: 'object', properties: { message: { type: 'string' } } } },
  },
};
const byId = {
  schema: {
    params: { type: 'object', properties: { id: { type: 'integer' } } },
    response: { 200: { type: 'object', properties: { id: { type: 'integer' } } } },
  },
};
const world = {
  schema: {
    response: {
      200: {
        type: 'object',
        properties: { id: { type: 'integer' }, randomNumber: { type: 'integer' } },
      },
    },
  },
};

const json = (request, reply) => {
  reply.send({ message: c.MESSAGE });
};
const user = (request, reply) => {
  reply.send({ id: request.params.id });
};

fastify.get('/plaintext', (request, reply) => {
  reply.send(c.MESSAGE);
});
fastify.get('/json', message, json);
fastify.get('/users/:id', byId, user);
fastify.get('/db', world, async () => c.world());
fastify.get('/fortunes', async (request, reply) => {
  reply.type('text/html; charset=utf-8');
  return c.renderFortunes(await c.fortunes());
});
fastify.get('/io', async () => {
  await c.sleep(c.IO_WAIT_MS);
  return c.MESSAGE;
});

// The middleware scenario: an encapsulated plugin with ten no-op onRequest hooks.
fastify.register(
  async (scope) => {
    for (let i = 0; i < c.MIDDLEWARE_DEPTH; i++) {
      scope.addHook('onRequest', (request, reply, done) => done());
    }
    scope.get('/json', message, json);
  },
  { prefix: '/mw' },
);

// routes-1000: a thousand dynamic routes; the scenario requests the last one.
for (let n = 0; n < c.ROUTE_COUNT; n++) fastify.get(`/route${n}/:id`, byId, user);

fastify.listen({ port: c.PORT, host: '127.0.0.1' }).catch((err) => {
  console.error(err);
  process.exit(1);
});
