// Echoes the request id (Heroku's X-Request-ID when valid, ours otherwise) on every response,
// errors included, so a client report can be matched to the log lines of that request. The
// security plugin depends on this one, so this hook runs before those of CORS, load shedding and
// the rate limiter, which can answer from their own hooks (a preflight's 204, a shed 503, a 429).
// @see https://devcenter.heroku.com/articles/http-request-id
import fp from 'fastify-plugin'

export default fp(async (fastify) => {
  // Callback style: this runs on every request, and an async hook costs a promise each time
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}, { name: 'request-id' })
