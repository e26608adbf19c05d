// GET /api/v1/images/:id: one image; anything the public may not see is a 404 for the public.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema, ImageSchema, NotModifiedSchema, NoQuerySchema } from '../../../../lib/schemas.ts'
import { createGallery } from '../../../../lib/gallery.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { workSignal } from '../../../../lib/request-signal.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const gallery = createGallery(fastify.sql, fastify.imageUrls, fastify.dbGate)
  fastify.get('/:id', {
    onRequest: fastify.identify,
    schema: {
      tags: ['images'],
      summary: 'Get an image',
      security: [{}, { bearerAuth: [] }],
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      querystring: NoQuerySchema,
      response: { 200: ImageSchema, 304: NotModifiedSchema, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const { id } = request.params
    if (request.principal?.permissions.includes(WRITE_GALLERY) === true) return await gallery.getImage(id, true, workSignal(request, reply.raw))
    return await fastify.servePublic(request, reply, async () => await gallery.getImage(id, false))
  })
}

export default route
