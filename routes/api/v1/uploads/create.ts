// POST /api/v1/uploads: a presigned S3 POST for one image. The bytes go from the client
// straight to S3; this creates the pending row and signs a policy that pins bucket, key,
// type and exact length. See docs/uploads.md for the client side.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ErrorSchema } from '../../../../lib/schemas.ts'
import { Errors } from '../../../../lib/errors.ts'
import { workSignal } from '../../../../lib/request-signal.ts'
import { maxUploadBytes } from '../../../../lib/config.ts'
import { WRITE_GALLERY } from '../../../../plugins/auth.ts'
import {
  ALLOWED_TYPES, PRESIGN_LIMIT, TooManyUploads, createSubjectLimiter, createUpload, uploadRequestProblem, type ImageType
} from '../../../../lib/uploads.ts'

const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const { sql, storage, config, dbGate } = fastify
  const limiter = createSubjectLimiter(PRESIGN_LIMIT)

  fastify.post('/', {
    onRequest: [fastify.authenticate, fastify.requirePermission(WRITE_GALLERY)],
    schema: {
      tags: ['uploads'],
      summary: 'Start an image upload (presigned S3 POST)',
      description: `Returns a URL and form fields: POST them as multipart/form-data to the URL, fields first and the file last in a field named "file", within ${config.UPLOAD_URL_TTL_SECONDS} s. ` +
        'Then call POST /api/v1/uploads/{id}/complete. S3 refuses a file whose length is not exactly `size` or whose type differs.',
      security: [{ bearerAuth: [] }],
      body: Type.Object({
        // Checked in the handler so the 400 can list the accepted types
        contentType: Type.String({ maxLength: 100, description: `MIME type of the file, one of ${Object.keys(ALLOWED_TYPES).join(', ')}`, examples: ['image/jpeg'] }),
        size: Type.Integer({ minimum: 1, description: `Exact file size in bytes; at most MAX_UPLOAD_SIZE_MB (currently ${config.MAX_UPLOAD_SIZE_MB} MB = ${maxUploadBytes(config)} bytes)` }),
        filename: Type.Optional(Type.String({ maxLength: 1024, description: 'Original file name, kept as a label only; never part of the storage key' }))
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({
          id: Type.String({ format: 'uuid', description: 'Image id; pass it to /complete' }),
          url: Type.String({ description: 'Where to POST the form (the bucket)' }),
          fields: Type.Record(Type.String(), Type.String(), { description: 'Form fields to send verbatim, before the file' }),
          expiresAt: Type.String({ format: 'date-time', description: 'S3 refuses the POST after this' }),
          maxSize: Type.Integer({ description: 'Bytes S3 will accept (exactly the declared size)' })
        }),
        400: ErrorSchema,
        401: ErrorSchema,
        403: ErrorSchema,
        429: ErrorSchema,
        503: ErrorSchema
      }
    }
  }, async (request, reply) => {
    const { sub } = request.principal!
    const retryAfter = limiter.hit(sub)
    if (retryAfter > 0) {
      reply.header('retry-after', String(retryAfter))
      throw new TooManyUploads(String(retryAfter))
    }
    const contentType = request.body.contentType.trim().toLowerCase()
    const problem = uploadRequestProblem(config, contentType, request.body.size)
    if (problem !== null) throw new Errors.BadRequest(problem)
    const upload = await dbGate.run(async () => await createUpload({ sql, storage, config }, {
      subject: sub,
      contentType: contentType as ImageType,
      size: request.body.size,
      filename: request.body.filename
    }, workSignal(request, reply.raw)))
    reply.code(201)
    return upload
  })
}

export default route
