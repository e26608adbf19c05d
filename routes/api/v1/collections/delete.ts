// DELETE /api/v1/collections/:collection (id or slug): the collection goes; its images stay, with no
// collection, and stay exactly as visible to the public as before (a draft's images are unpublished).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CollectionParamsSchema, ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.delete('/:collection', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['collections'],
      summary: 'Delete a collection (its images are kept, without a collection)',
      description: 'Deleting never changes what the public sees. The images of a published collection stay published. The images of a draft (unpublished) collection are set to unpublished, since without a collection they would otherwise become public; publish them again once they are where they belong.',
      security: [{ bearerAuth: [] }],
      params: CollectionParamsSchema,
      response: { 204: Type.Null({ description: 'Deleted' }), 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    await gallery.deleteCollection(request.params.collection)
    fastify.publicCache.invalidate()
    return reply.code(204).send(null)
  })
}

export default route
