// Graceful drain on close: Fastify marks requests that ARRIVE while closing with
// `Connection: close`, but a request already in flight when SIGTERM lands answers with
// keep-alive, leaving an idle socket that holds server.close() open for keepAliveTimeout
// (95 s, past Heroku's 30 s SIGKILL). While draining, idle sockets are closed as soon as
// their last response is out. A timer rather than per-request hooks: nothing is paid on the
// hot path for a moment that comes once per process.
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import fp from 'fastify-plugin'

export default fp(async (fastify) => {
  let timer: NodeJS.Timeout | undefined
  fastify.addHook('preClose', (done) => {
    timer = setInterval(() => fastify.server.closeIdleConnections(), 50)
    timer.unref()
    done()
  })
  fastify.addHook('onClose', (_instance, done) => {
    clearInterval(timer)
    done()
  })
}, { name: 'drain' })
