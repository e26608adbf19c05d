// Sheds load with 503 + Retry-After when the event loop or memory is saturated, rather than
// queueing requests until Heroku's router answers H12 at 30 s or the dyno hits R14/R15.
// @see https://devcenter.heroku.com/articles/error-codes
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'

export default fp(async (fastify) => {
  if (!fastify.config.LOAD_SHEDDING_ENABLED) return
  await fastify.register(underPressure, {
    // Overload is work waiting: the event loop's delay. Utilization is not used: a busy but
    // keeping-up process sits near 100 %, and shedding there only throws throughput away
    // (the benchmark saw a third of requests refused at full speed with a 0.98 limit).
    maxEventLoopDelay: 1000,
    retryAfter: 10,
    exposeStatusRoute: false,
    // Typed as returning void, but under-pressure sends a returned value (and would continue
    // the hook chain after a reply.send(), answering 500)
    pressureHandler: ((request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
      request.log.warn({ type, value }, 'shedding load')
      reply.code(503).header('retry-after', '10')
      return { statusCode: 503, error: 'Service Unavailable', message: 'The server is busy, retry shortly', code: 'GALLERY_OVERLOADED' }
    }) as never
  })
}, { name: 'load-shedding', dependencies: ['config', 'security'] })
