// DELETE /api/v1/images/:id: removes the row and its S3 object, or neither (503 when S3 fails).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { workSignal } from '../../../../lib/request-signal.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const { storage } = fastify
  const gallery = createGallery(fastify.sql, fastify.imageUrls)
  fastify.delete('/:id', {
    onRequest: fastify.authenticate,
    preHandler: fastify.requirePermission(WRITE_GALLERY),
    schema: {
      tags: ['images'],
      summary: 'Delete an image and its stored object',
      security: [{ bearerAuth: [] }],
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 204: Type.Null({ description: 'Deleted' }), 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request, reply) => {
    const signal = workSignal(request, reply.raw)
    await gallery.deleteImage(request.params.id, async (key) => { await storage.deleteObject(key, signal) })
    fastify.publicCache.invalidate()
    return reply.code(204).send(null)
  })
}

export default route
