// POST /api/v1/collections/reorder: set the order of collections in one transaction.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionSchema, ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.post('/reorder', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['collections'],
      summary: 'Reorder collections',
      description: 'The listed collections come first, in this order; the others keep their relative order after them. Answers every collection in the new order. Ids compare case-insensitively; listing one twice is a 400, an unknown id a 422.',
      security: [{ bearerAuth: [] }],
      body: Type.Object({
        ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 1000, uniqueItems: true })
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(CollectionSchema) }), 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 422: ErrorSchema }
    }
  }, async (request) => {
    const items = await gallery.reorderCollections(request.body.ids)
    fastify.publicCache.invalidate()
    return { items }
  })
}

export default route
