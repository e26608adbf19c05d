// GET /api/v1/images: keyset-paginated images ordered by (position, id), filtered by collection
// and tag. Public: ready + published only (cached, ETag). Writers: everything, filterable by status.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema, ImagePageSchema, LIMIT_DEFAULT, NotModifiedSchema, PageQuerySchema, StringEnum } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { decodeCursor } from '../../../../lib/cursor.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { workSignal } from '../../../../lib/request-signal.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.get('/', {
    onRequest: fastify.identify,
    schema: {
      tags: ['images'],
      summary: 'List images',
      description: 'Public: ready and published images outside draft collections. With a write:gallery token: every image (filter with status).',
      security: [{}, { bearerAuth: [] }],
      querystring: Type.Object({
        ...PageQuerySchema.properties,
        collection: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Collection id or slug' })),
        tag: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
        status: Type.Optional(StringEnum(['pending', 'ready', 'rejected'], { description: 'Writers only; the public only ever sees ready images' }))
      }, { additionalProperties: false }),
      response: { 200: ImagePageSchema, 304: NotModifiedSchema, 400: ErrorSchema, 401: ErrorSchema }
    }
  }, async (request, reply) => {
    const { limit, cursor, collection, tag, status } = request.query
    const writer = request.principal?.permissions.includes(WRITE_GALLERY) === true
    // The cursor is decoded (and a forged one refused with a 400) where a query needs it: for
    // the public, only when the cache fills, since a cached page's cursor was checked by its fill
    const query = () => ({ writer, limit: limit ?? LIMIT_DEFAULT, cursor: decodeCursor(cursor), collection, tag, status })
    if (writer) return await gallery.listImages(query(), workSignal(request, reply.raw))
    return await fastify.servePublic(request, reply, async () => await gallery.listImages(query()))
  })
}

export default route
