// PATCH /api/v1/collections/:collection (id or slug): change slug, title, description, published or position.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionFields, CollectionParamsSchema, CollectionSchema, ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.patch('/:collection', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['collections'],
      summary: 'Update a collection',
      description: 'Only the listed fields; any other property (id, created_at...) is a 400.',
      security: [{ bearerAuth: [] }],
      params: CollectionParamsSchema,
      body: Type.Object({
        slug: Type.Optional(CollectionFields.slug),
        title: Type.Optional(CollectionFields.title),
        description: Type.Optional(CollectionFields.description),
        published: Type.Optional(CollectionFields.published),
        position: Type.Optional(CollectionFields.position)
      }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: CollectionSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema }
    }
  }, async (request) => {
    const updated = await gallery.updateCollection(request.params.collection, request.body)
    fastify.publicCache.invalidate()
    return updated
  })
}

export default route
