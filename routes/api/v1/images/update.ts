// PATCH /api/v1/images/:id: the editable fields only. Anything else (id, key, status,
// created_at...) is a 400, so nothing can be mass-assigned. Only ready images can be published.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema, ImageSchema, Nullable } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.patch('/:id', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['images'],
      summary: 'Update an image',
      security: [{ bearerAuth: [] }],
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      body: Type.Object({
        title: Type.Optional(Type.String({ maxLength: 200 })),
        description: Type.Optional(Type.String({ maxLength: 5000 })),
        altText: Type.Optional(Type.String({ maxLength: 1000, description: 'Text alternative for screen readers' })),
        tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 30, description: 'Trimmed and de-duplicated' })),
        collectionId: Type.Optional(Nullable(Type.String({ format: 'uuid' }), { description: 'null takes the image out of its collection' })),
        position: Type.Optional(Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 })),
        published: Type.Optional(Type.Boolean({ description: 'Only a ready image can be published (409 otherwise)' }))
      }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: ImageSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema }
    }
  }, async (request) => {
    const updated = await gallery.updateImage(request.params.id, request.body)
    fastify.publicCache.invalidate()
    return updated
  })
}

export default route
