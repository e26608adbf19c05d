// Shared TypeBox schemas used by route files (and so by the OpenAPI document).
import { Type, type Static, type TSchema } from 'typebox'
import { CURSOR_MAX_LENGTH } from './cursor.ts'

// `X | null` and string enums as JSON Schema type lists and enums, not TypeBox's anyOf
// (Type.Union): fast-json-stringify writes a type list directly, but for an anyOf it builds
// a whole Ajv instance per response schema at boot (12 of them, most of the time ajv took
// to start) and runs it on every value of every response it serialises to pick a branch.
// OpenAPI 3.1 takes type lists as they are.

/** `schema | null`; `schema` must have a single `type`. */
export function Nullable<T extends TSchema & { type: string }> (schema: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, type: [schema.type, 'null'] })
}

/** One of these strings. */
export function StringEnum<const T extends readonly string[]> (values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String())
}, { $id: undefined, description: 'Fastify error shape' })

export type ErrorBody = Static<typeof ErrorSchema>

const Uuid = (description: string) => Type.String({ format: 'uuid', description })
const Timestamp = (description: string) => Type.String({ format: 'date-time', description })

/** An image as the API shows it. `url` is null until the image is ready (no object to serve). */
export const ImageSchema = Type.Object({
  id: Uuid('Image id'),
  collectionId: Nullable(Uuid('Collection id')),
  status: StringEnum(['pending', 'ready', 'rejected'], { description: 'Upload lifecycle; the public only ever sees ready' }),
  title: Type.String(),
  description: Type.String(),
  altText: Type.String(),
  tags: Type.Array(Type.String()),
  position: Type.Integer(),
  published: Type.Boolean(),
  contentType: Type.String(),
  size: Nullable(Type.Integer(), { description: 'Bytes, once verified' }),
  width: Nullable(Type.Integer()),
  height: Nullable(Type.Integer()),
  url: Nullable(Type.String({ format: 'uri' }), { description: 'CDN URL, or a presigned GET URL stable within a time window; null unless ready' }),
  createdAt: Timestamp('Created'),
  updatedAt: Timestamp('Last changed')
})

export type Image = Static<typeof ImageSchema>

export const CollectionSchema = Type.Object({
  id: Uuid('Collection id'),
  slug: Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 80 }),
  title: Type.String(),
  description: Type.String(),
  published: Type.Boolean(),
  position: Type.Integer(),
  createdAt: Timestamp('Created'),
  updatedAt: Timestamp('Last changed')
})

export type Collection = Static<typeof CollectionSchema>

export const LIMIT_DEFAULT = 24
export const LIMIT_MAX = 100

/**
 * Keyset pagination: `cursor` is the opaque `nextCursor` of the previous page. Unknown query
 * parameters are a 400 (app.ts keeps removeAdditional off): on a cached public route each would
 * otherwise be a new cache key.
 *
 * The cursor has one validator, decodeCursor (lib/cursor.ts): every bad cursor, empty and
 * overlong ones included, is the same 400 'Invalid cursor', and it bounds the length itself
 * (1-200 base64url characters). minLength/maxLength here refused those two with other messages,
 * and Ajv counts a string's length in code points, one charCodeAt per character, once per
 * keyword: on the bench's deep page that was ~5k instructions per request (callgrind), 3 % of
 * a cached page, for bounds decodeCursor checks anyway. On the public routes decodeCursor runs
 * when the cache fills, so a junk cursor is refused there and no entry is stored for it.
 */
export const PageQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMIT_MAX, default: LIMIT_DEFAULT, description: `Page size, at most ${LIMIT_MAX}` })),
  cursor: Type.Optional(Type.String({ description: `Opaque cursor from the previous page's nextCursor (at most ${CURSOR_MAX_LENGTH} characters)` }))
}, { additionalProperties: false })

/** For GET routes that take no query parameters: any parameter is a 400, never a new cache key. */
export const NoQuerySchema = Type.Object({}, { additionalProperties: false })

const NextCursor = Nullable(Type.String(), { description: 'Cursor of the next page; null on the last page' })
export const ImagePageSchema = Type.Object({ items: Type.Array(ImageSchema), nextCursor: NextCursor })
export const CollectionPageSchema = Type.Object({ items: Type.Array(CollectionSchema), nextCursor: NextCursor })

export const NotModifiedSchema = Type.Null({ description: 'Not Modified: If-None-Match matched the current ETag' })

/** Writable collection fields, shared by create and update. */
export const CollectionFields = {
  slug: Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 80, description: 'URL name: lowercase letters, digits and single hyphens; unique' }),
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 5000 }),
  published: Type.Boolean(),
  position: Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 })
}

/** One path parameter for get, update and delete: OpenAPI forbids /{id} beside /{slug} on one path. */
export const CollectionParamsSchema = Type.Object({
  collection: Type.String({ pattern: '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$', maxLength: 80, description: 'Collection id or slug' })
})
