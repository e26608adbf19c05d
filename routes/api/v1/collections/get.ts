// GET /api/v1/collections/:collection (id or slug): one collection; drafts are 404 for the public.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CollectionParamsSchema, CollectionSchema, ErrorSchema, NotModifiedSchema, NoQuerySchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { workSignal } from '../../../../lib/request-signal.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.get('/:collection', {
    onRequest: fastify.identify,
    schema: {
      tags: ['collections'],
      summary: 'Get a collection by id or slug',
      security: [{}, { bearerAuth: [] }],
      params: CollectionParamsSchema,
      querystring: NoQuerySchema,
      response: { 200: CollectionSchema, 304: NotModifiedSchema, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const { collection } = request.params
    if (request.principal?.permissions.includes(WRITE_GALLERY) === true) return await gallery.getCollection(collection, true, workSignal(request, reply.raw))
    return await fastify.servePublic(request, reply, async () => await gallery.getCollection(collection, false))
  })
}

export default route
