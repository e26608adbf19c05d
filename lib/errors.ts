// Every application error, declared once. Fastify renders them as
// { statusCode, error, message, code } like its own and its plugins' errors.
import createError from '@fastify/error'

export const Errors = {
  NotFound: createError('GALLERY_NOT_FOUND', '%s not found', 404),
  RouteNotFound: createError('GALLERY_ROUTE_NOT_FOUND', 'Route %s:%s not found', 404),
  Conflict: createError('GALLERY_CONFLICT', '%s', 409),
  BadRequest: createError('GALLERY_BAD_REQUEST', '%s', 400),
  Unauthorized: createError('GALLERY_UNAUTHORIZED', '%s', 401),
  Forbidden: createError('GALLERY_FORBIDDEN', '%s', 403),
  Unprocessable: createError('GALLERY_UNPROCESSABLE', '%s', 422),
  DatabaseUnavailable: createError('GALLERY_DATABASE_UNAVAILABLE', 'The database is temporarily unavailable, retry shortly', 503),
  StorageUnavailable: createError('GALLERY_STORAGE_UNAVAILABLE', 'Image storage is temporarily unavailable, retry shortly', 503),
  IdentityProviderUnavailable: createError('GALLERY_IDP_UNAVAILABLE', 'The identity provider is unreachable, retry shortly', 503),
  Internal: createError('GALLERY_INTERNAL', 'Internal Server Error', 500)
} as const

/** An error as a log field: its message and code only (a driver error's other fields can carry the query or credentials). */
export function briefError (err: unknown): { message?: string, code?: string } {
  return { message: (err as Error).message, code: (err as { code?: string }).code }
}
