// Sheds load with 503 + Retry-After when the event loop is saturated, rather than queueing
// requests until Heroku's router answers H12 at 30 s or the dyno hits R14/R15.
// @see https://devcenter.heroku.com/articles/error-codes
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'

declare module 'fastify' {
  interface FastifyInstance {
    /** True while requests are being shed (with LOAD_SHEDDING_ENABLED). */
    overloaded: () => boolean
  }
  interface FastifyContextConfig {
    /** false: never shed this route's requests (the probes: they must report the truth). */
    shed?: boolean
  }
}

// Overload is work waiting: the event loop's delay, averaged over a second. Utilization is not
// used: a busy but keeping-up process sits near 100 %, and shedding there only throws
// throughput away (the benchmark saw a third of requests refused at full speed with a 0.98 limit).
const MAX_EVENT_LOOP_DELAY_MS = 1000
const RETRY_AFTER_S = '10'

export default fp(async (fastify) => {
  if (!fastify.config.LOAD_SHEDDING_ENABLED) return
  // under-pressure takes the samples (the event loop's delay histogram, once a second) and is
  // given no limit, so it adds no hook; the gate is this plugin's. under-pressure's own hook reads
  // request.routeOptions on every request, to find a route's handler before it looks at the
  // sample, and Fastify builds that object anew on each read (12 fields and a router lookup).
  // This hook looks at the sample first, and at the route only while it sheds.
  await fastify.register(underPressure, { exposeStatusRoute: false })
  const overloaded = () => fastify.memoryUsage().eventLoopDelay > MAX_EVENT_LOOP_DELAY_MS
  fastify.decorate('overloaded', overloaded)

  // Callback style: this runs on every request, and an async hook costs a promise each time.
  // Hooks run in the order they were added: the request id, the security headers and CORS
  // (this plugin depends on the security plugin) are set when it answers.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!overloaded() || request.routeOptions.config.shed === false) {
      done()
      return
    }
    request.log.warn({ type: 'eventLoopDelay', value: fastify.memoryUsage().eventLoopDelay }, 'shedding load')
    // Answered here, so done() is not called: the request goes no further
    reply.code(503).header('retry-after', RETRY_AFTER_S)
      .send({ statusCode: 503, error: 'Service Unavailable', message: 'The server is busy, retry shortly', code: 'GALLERY_OVERLOADED' })
  })
}, { name: 'load-shedding', dependencies: ['config', 'security'] })
