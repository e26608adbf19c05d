// GET /api/v1/health: readiness of Postgres, S3 and the issuer's JWKS; 503 when one fails.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { StringEnum } from '../../../lib/schemas.ts'

const CheckSchema = Type.Object({
  status: StringEnum(['ok', 'fail']),
  latencyMs: Type.Integer(),
  error: Type.Optional(Type.String())
})
const ReadinessSchema = Type.Object({
  status: StringEnum(['ok', 'fail']),
  checkedAt: Type.String({ format: 'date-time' }),
  checks: Type.Object({ postgres: CheckSchema, s3: CheckSchema, jwks: CheckSchema })
})

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readiness } = fastify
  fastify.get('/health', {
    // Probes must see the truth: never shed under load (the answer is cached anyway)
    config: { shed: false },
    schema: {
      tags: ['health'],
      summary: 'Readiness: Postgres, S3 and Auth0 JWKS',
      response: { 200: ReadinessSchema, 503: ReadinessSchema }
    }
  }, async (_request, reply) => {
    const result = await readiness.get()
    reply.header('cache-control', 'no-store')
    return reply.code(result.status === 'ok' ? 200 : 503).send(result as never)
  })
}

export default route
