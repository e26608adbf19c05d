// GET /api/v1/me: who the token says the caller is, and what they may do.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema } from '../../../lib/schemas.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/me', {
    onRequest: fastify.authenticate,
    schema: {
      tags: ['me'],
      summary: 'The signed-in caller',
      security: [{ bearerAuth: [] }],
      response: {
        200: Type.Object({ sub: Type.String(), permissions: Type.Array(Type.String()), canWrite: Type.Boolean() }),
        401: ErrorSchema
      }
    }
  }, async (request) => {
    const { sub, permissions } = request.principal!
    return { sub, permissions, canWrite: permissions.includes('write:gallery') }
  })
}

export default route
