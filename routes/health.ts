// GET /health: liveness. No dependency calls and never rate limited, so it answers while
// Postgres, S3 or Auth0 are down (readiness at /api/v1/health reports those).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', {
    config: { rateLimit: false },
    schema: {
      tags: ['health'],
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default route
