// Echoes the request id (Heroku's X-Request-ID when valid, ours otherwise) on every response,
// errors included, so a client report can be matched to the log lines of that request.
// @see https://devcenter.heroku.com/articles/http-request-id
import fp from 'fastify-plugin'

export default fp(async (fastify) => {
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
}, { name: 'request-id' })
