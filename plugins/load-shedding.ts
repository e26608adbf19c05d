// Sheds load with 503 + Retry-After when the event loop or memory is saturated, rather than
// queueing requests until Heroku's router answers H12 at 30 s or the dyno hits R14/R15.
// @see https://devcenter.heroku.com/articles/error-codes
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'

export default fp(async (fastify) => {
  if (!fastify.config.LOAD_SHEDDING_ENABLED) return
  await fastify.register(underPressure, {
    maxEventLoopDelay: 1000,
    maxEventLoopUtilization: 0.98,
    // The default is utilization since boot, which after a day of uptime says nothing about now
    eventLoopUtilizationMode: 'interval',
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
}, { name: 'load-shedding', dependencies: ['config'] })
