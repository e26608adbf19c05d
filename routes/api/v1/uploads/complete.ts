// POST /api/v1/uploads/:id/complete: after the client's POST to S3, verify the uploaded object
// (size, stored type, magic number, header) and copy it to the image's key, or delete it and
// reject it. Idempotent.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema, ImageSchema } from '../../../../lib/schemas.ts'
import { Errors } from '../../../../lib/errors.ts'
import { workSignal } from '../../../../lib/request-signal.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import { completeUpload } from '../../../../lib/uploads.ts'
import { createGallery } from '../../../../lib/gallery.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sql, storage, config, imageUrls, dbGate } = fastify
  // The image is shown exactly as GET /api/v1/images/:id shows it to its owner
  const gallery = createGallery(sql, imageUrls, dbGate)

  fastify.post('/:id/complete', {
    onRequest: [fastify.authenticate, fastify.requirePermission(WRITE_GALLERY)],
    schema: {
      tags: ['uploads'],
      summary: 'Finish an upload: verify the object in S3 and make the image ready',
      description: 'Only the subject that started the upload may complete it (anyone else gets 404). ' +
        '409 until the object is in S3 (or when it was replaced while being verified); 422 (with the reason) when it is not the declared image, in which case the object is deleted. ' +
        'Calling it again answers the same result.',
      security: [{ bearerAuth: [] }],
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: {
        200: ImageSchema,
        400: ErrorSchema,
        401: ErrorSchema,
        403: ErrorSchema,
        404: ErrorSchema,
        409: ErrorSchema,
        422: ErrorSchema,
        503: ErrorSchema
      }
    }
  }, async (request, reply) => {
    const signal = workSignal(request, reply.raw)
    // Completing also reads the bucket: its failures arrive as StorageUnavailable (lib/uploads.ts
    // maps every S3 error), not as a failure to connect, and the gate would close only when its
    // own probe of Postgres failed anyway
    const result = await dbGate.run(async () => await completeUpload({ sql, storage, config }, { id: request.params.id, subject: request.principal!.sub }, signal))
    if (result.outcome === 'rejected') throw new Errors.Unprocessable(`The upload was rejected: ${result.row.rejection_reason ?? 'verification failed'}`)
    return await gallery.getImage(result.row.id, true, signal)
  })
}

export default route
