// GET /api/v1/collections/:slug: one collection; drafts are 404 for the public.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionSchema, ErrorSchema, NotModifiedSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls)
  fastify.get('/:slug', {
    onRequest: fastify.identify,
    schema: {
      tags: ['collections'],
      summary: 'Get a collection by slug',
      security: [{}, { bearerAuth: [] }],
      params: Type.Object({ slug: Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 80 }) }),
      response: { 200: CollectionSchema, 304: NotModifiedSchema, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const { slug } = request.params
    if (request.principal?.permissions.includes(WRITE_GALLERY) === true) return await gallery.getCollection(slug, true, request.signal)
    return await fastify.servePublic(request, reply, async () => await gallery.getCollection(slug, false))
  })
}

export default route
