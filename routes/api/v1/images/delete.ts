// DELETE /api/v1/images/:id: removes the row and its S3 object. The image leaves the public view
// first; if S3 fails the answer is 503 and the row stays, unpublished, until a retry (lib/gallery.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const { storage } = fastify
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.delete('/:id', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['images'],
      summary: 'Delete an image and its stored object',
      description: 'The image is unpublished first, then its object is deleted, then the row. When storage is unavailable the answer is 503 and the image stays, unpublished: retry the delete.',
      security: [{ bearerAuth: [] }],
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 204: Type.Null({ description: 'Deleted' }), 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request, reply) => {
    // No request signal: a client going away must not cancel the S3 delete half-way (S3 may have
    // acted on it already); the storage client's own timeouts bound it
    await gallery.deleteImage(request.params.id, async (key) => { await storage.deleteObject(key) })
    fastify.publicCache.invalidate()
    return reply.code(204).send(null)
  })
}

export default route
