// Graceful drain on close: Fastify marks requests that ARRIVE while closing with
// `Connection: close`, but a request already in flight when SIGTERM lands would answer with
// keep-alive, leaving an idle socket that holds server.close() open for keepAliveTimeout
// (95 s, past Heroku's 30 s SIGKILL). Responses sent while draining close their connection.
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import fp from 'fastify-plugin'

export default fp(async (fastify) => {
  let draining = false
  fastify.addHook('preClose', async () => { draining = true })
  fastify.addHook('onSend', async (request, reply) => {
    if (draining && request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
  })
  fastify.addHook('onResponse', async () => {
    if (draining) fastify.server.closeIdleConnections()
  })
}, { name: 'drain' })
