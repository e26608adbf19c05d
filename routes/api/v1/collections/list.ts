// GET /api/v1/collections: published collections for the public (cached, ETag); drafts too for writers.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CollectionPageSchema, ErrorSchema, NotModifiedSchema, PageQuerySchema, LIMIT_DEFAULT } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { decodeCursor } from '../../../../lib/cursor.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { workSignal } from '../../../../lib/request-signal.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.get('/', {
    onRequest: fastify.identify,
    schema: {
      tags: ['collections'],
      summary: 'List collections, ordered by position',
      description: 'Public: published collections only. With a write:gallery token: drafts too.',
      security: [{}, { bearerAuth: [] }],
      querystring: PageQuerySchema,
      response: { 200: CollectionPageSchema, 304: NotModifiedSchema, 400: ErrorSchema, 401: ErrorSchema }
    }
  }, async (request, reply) => {
    const writer = request.principal?.permissions.includes(WRITE_GALLERY) === true
    const { limit, cursor } = request.query
    // Decoded where a query needs it: for the public, only when the cache fills (as for images)
    const query = () => ({ writer, limit: limit ?? LIMIT_DEFAULT, cursor: decodeCursor(cursor) })
    if (writer) return await gallery.listCollections(query(), workSignal(request, reply.raw))
    return await fastify.servePublic(request, reply, async () => await gallery.listCollections(query()))
  })
}

export default route
