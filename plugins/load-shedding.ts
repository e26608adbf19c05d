// Sheds load with 503 + Retry-After when the event loop or memory is saturated, rather than
// queueing requests until Heroku's router answers H12 at 30 s or the dyno hits R14/R15.
// @see https://devcenter.heroku.com/articles/error-codes
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'

export default fp(async (fastify) => {
  await fastify.register(underPressure, {
    maxEventLoopDelay: 1000,
    maxEventLoopUtilization: 0.98,
    // Half of a 512 MB dyno's quota, per process
    maxRssBytes: 256 * 1024 * 1024,
    retryAfter: 10,
    exposeStatusRoute: false
  })
}, { name: 'load-shedding' })
