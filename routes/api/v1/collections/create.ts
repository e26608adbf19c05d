// POST /api/v1/collections: a new collection (last in order unless a position is given).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionFields, CollectionSchema, ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.post('/', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['collections'],
      summary: 'Create a collection',
      security: [{ bearerAuth: [] }],
      body: Type.Object({
        slug: CollectionFields.slug,
        title: CollectionFields.title,
        description: Type.Optional(CollectionFields.description),
        published: Type.Optional(CollectionFields.published),
        position: Type.Optional(CollectionFields.position)
      }, { additionalProperties: false }),
      response: { 201: CollectionSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema }
    }
  }, async (request, reply) => {
    const created = await gallery.createCollection(request.body)
    fastify.publicCache.invalidate()
    return reply.code(201).send(created)
  })
}

export default route
