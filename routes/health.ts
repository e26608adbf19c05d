// GET /health: liveness. No dependency calls and never rate limited, so it answers while
// Postgres, S3 or Auth0 are down (readiness at /api/v1/health reports those).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const OK = { status: 'ok' } as const

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    // Probes must see the truth, so they are neither rate limited nor shed under load; a
    // monitor polling every few seconds would drown the request log, so only failures log.
    // It answers at once, so it needs no request budget (app.ts). Its callers are machines
    // (uptime monitors, the platform), not scripts in a browser: no CORS headers (a status
    // page in the browser reads /api/v1/health). Each of these is per-request work that the
    // most-polled route would do for nothing.
    config: { rateLimit: false, shed: false, logRequests: false, requestBudget: false, cors: false },
    schema: {
      tags: ['health'],
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
    // Not async: Fastify sends a plain return value at once, where an async handler's promise
    // costs an allocation and a turn of the microtask queue, on the most-polled route
  }, () => OK)
}

export default route
