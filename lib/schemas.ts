// Shared TypeBox schemas used by route files (and so by the OpenAPI document).
import { Type, type Static } from 'typebox'

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String())
}, { $id: undefined, description: 'Fastify error shape' })

export type ErrorBody = Static<typeof ErrorSchema>
