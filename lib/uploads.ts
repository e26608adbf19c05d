// The upload lifecycle: presign a POST for one image, verify the object S3 received, and the
// per-subject presign limit. Framework-free; the route files in routes/api/v1/uploads/ call it.
// @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
// @see https://cheatsheetseries.owasp.org/cheatsheets/File_Upload_Cheat_Sheet.html
import { randomUUID } from 'node:crypto'
import createError from '@fastify/error'
import { createPresignedPost, type PresignedPostOptions } from '@aws-sdk/s3-presigned-post'
import { type Config, MB, maxUploadBytes } from './config.ts'
import { type Sql, cancellable } from './db.ts'
import { type Storage, isPreconditionFailed } from './storage.ts'
import { Errors } from './errors.ts'
import { sniffImageType, inspectImage, type Dimensions, type ImageType } from './magic.ts'

export type { ImageType }

/** Raster types only, each with the extension the key gets. Never svg (scripts), html or octet-stream. */
export const ALLOWED_TYPES: Record<ImageType, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif'
}

export function isAllowedType (type: string): type is ImageType {
  return Object.hasOwn(ALLOWED_TYPES, type)
}

/**
 * Uploads land tagged state=pending; the bucket's lifecycle rule (infra/modules/image-bucket)
 * expires objects still carrying the tag, a backstop for the cleanup command. Completion copies
 * the verified upload to its final key with the tag set replaced by state=ready, so an image
 * never matches the rule.
 */
export const PENDING_TAGGING = '<Tagging><TagSet><Tag><Key>state</Key><Value>pending</Value></Tag></TagSet></Tagging>'
export const READY_TAGS = { state: 'ready' } as const

/**
 * Bytes read from the start of an object: magic numbers need 12, PNG/GIF/WebP dimensions 30,
 * a JPEG's frame header follows its metadata segments (see inspectImage in lib/magic.ts).
 */
export const HEADER_BYTES = 256 * 1024

/**
 * Where the presigned POST puts the bytes: `<prefix>/incoming/<uuid>.<ext>` for the final key
 * `<prefix>/<uuid>.<ext>`. Nothing but a verified server-side copy ever writes a final key, so
 * the form, reusable until it expires, can never replace an image after completion.
 */
export function incomingKey (key: string): string {
  const slash = key.lastIndexOf('/')
  return `${key.slice(0, slash + 1)}incoming/${key.slice(slash + 1)}`
}

/** Longest original filename kept (the column allows 255); it is a label, never part of a key. */
export const FILENAME_MAX = 255

export const TooManyUploads = createError('GALLERY_TOO_MANY_UPLOADS', 'Too many uploads started; retry in %s seconds', 429)

export interface ImageRow {
  id: string
  collection_id: string | null
  status: 'pending' | 'ready' | 'rejected'
  key: string
  content_type: string
  declared_size: string | number
  size: string | number | null
  width: number | null
  height: number | null
  title: string
  description: string
  alt_text: string
  tags: string[]
  position: number
  published: boolean
  uploaded_by: string
  original_filename: string | null
  rejection_reason: string | null
  expires_at: Date
  completed_at: Date | null
  created_at: Date
  updated_at: Date
}

export interface PresignedUpload { id: string, url: string, fields: Record<string, string>, expiresAt: string, maxSize: number }

/** Why a declared upload is refused before anything is signed, or null when it is fine. */
export function uploadRequestProblem (config: Config, contentType: string, size: number): string | null {
  if (!isAllowedType(contentType)) return `contentType must be one of ${Object.keys(ALLOWED_TYPES).join(', ')}`
  const limit = maxUploadBytes(config)
  if (size > limit) return `size ${size} exceeds the upload limit of ${config.MAX_UPLOAD_SIZE_MB} MB (${limit} bytes; 1 MB = ${MB} bytes)`
  return null
}

/** Keeps a filename as a label: no path, no control characters, bounded length. */
export function cleanFilename (filename: string | undefined): string | null {
  if (filename === undefined) return null
  // eslint-disable-next-line no-control-regex
  const base = filename.split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim()
  return base === '' ? null : [...base].slice(0, FILENAME_MAX).join('').slice(0, FILENAME_MAX)
}

/**
 * Creates the pending row and the presigned POST for it. The row's key is `<prefix>/<row id>.<ext>`:
 * random, and the extension comes from the allowlisted type, never from the client's filename.
 * The POST goes to the incoming key derived from it (incomingKey), never to the key itself.
 */
export async function createUpload (
  { sql, storage, config }: { sql: Sql, storage: Storage, config: Config },
  { subject, contentType, size, filename }: { subject: string, contentType: ImageType, size: number, filename?: string },
  signal?: AbortSignal
): Promise<PresignedUpload> {
  const id = randomUUID()
  const key = `${storage.prefix}/${id}.${ALLOWED_TYPES[contentType]}`
  const uploadKey = incomingKey(key)
  const ttl = config.UPLOAD_URL_TTL_SECONDS

  // Every form field S3 receives is pinned by an exact condition (eq), none by starts-with:
  // the client can choose neither the key, nor the type (starts-with image/ would admit svg),
  // nor the length, which must be exactly what it declared (a browser knows File.size exactly).
  const conditions: NonNullable<PresignedPostOptions['Conditions']> = [
    { bucket: storage.bucket },
    ['eq', '$key', uploadKey],
    ['eq', '$Content-Type', contentType],
    ['eq', '$tagging', PENDING_TAGGING],
    ['content-length-range', size, size]
  ]
  const post = await createPresignedPost(storage.client, {
    Bucket: storage.bucket,
    Key: uploadKey,
    Conditions: conditions,
    Fields: { 'Content-Type': contentType, tagging: PENDING_TAGGING },
    Expires: ttl
  })

  // The row is written after signing succeeded (signing can need credentials from the
  // environment); its expiry is the policy's, so cleanup knows when S3 stops accepting it.
  const expiresAt = policyExpiration(post.fields.Policy) ?? new Date(Date.now() + ttl * 1000)
  await cancellable(sql`
    insert into images (id, key, content_type, declared_size, uploaded_by, original_filename, expires_at)
    values (${id}, ${key}, ${contentType}, ${size}, ${subject}, ${cleanFilename(filename)}, ${expiresAt})
  `, signal)

  return { id, url: post.url, fields: post.fields, expiresAt: expiresAt.toISOString(), maxSize: size }
}

function policyExpiration (policy: string | undefined): Date | null {
  if (policy === undefined) return null
  const { expiration } = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration?: string }
  const date = new Date(expiration ?? '')
  return Number.isNaN(date.getTime()) ? null : date
}

export type CompletionResult =
  | { outcome: 'ready', row: ImageRow }
  | { outcome: 'rejected', row: ImageRow }

/**
 * Verifies the object of a pending upload and moves the row to ready or rejected, once.
 * Checks, in order: the uploaded (incoming) object exists (else 409), its size is exactly the
 * declared size and within the limit, its stored Content-Type is the declared one, and its
 * first bytes are an image of that type. Any mismatch deletes the object and rejects the row.
 * A verified upload is copied server-side to the final key, which is the only key ever served.
 *
 * Every read after the HEAD is pinned to the ETag it saw (ranged GET with If-Match, copy with
 * CopySourceIfMatch): if the form is POSTed again while we verify, S3 answers 412 and the
 * client gets a 409 to retry, instead of us copying bytes we never checked. (s3rver ignores
 * both conditions; real S3 and MinIO enforce them.)
 *
 * An upload completed after its expires_at is still accepted when the object exists: S3 checks
 * the policy's expiration when it receives the POST, so an existing object arrived in time.
 *
 * Concurrent completions may both verify, but only one conditional UPDATE (where status =
 * 'pending') wins; the other re-reads the row and answers with the winner's result.
 */
export async function completeUpload (
  { sql, storage, config }: { sql: Sql, storage: Storage, config: Config },
  { id, subject }: { id: string, subject: string },
  signal?: AbortSignal
): Promise<CompletionResult> {
  const row = await findOwned(sql, id, subject)
  if (row.status !== 'pending') return { outcome: row.status, row }
  try {
    return await verify({ sql, storage, config }, row, subject, signal)
  } catch (err) {
    // A concurrent completion may have settled the row and deleted the incoming object while
    // we were reading it (our HEAD says missing, or a later read fails): its answer stands
    if (err instanceof Errors.Conflict || err instanceof Errors.StorageUnavailable) {
      const again = await findOwned(sql, id, subject)
      if (again.status !== 'pending') return { outcome: again.status, row: again }
    }
    throw err
  }
}

async function verify (
  { sql, storage, config }: { sql: Sql, storage: Storage, config: Config },
  row: ImageRow, subject: string, signal?: AbortSignal
): Promise<CompletionResult> {
  const { id } = row
  let source = incomingKey(row.key)
  let head = await s3(() => storage.headObject(source, signal))
  if (!head) {
    // Settled meanwhile by a concurrent completion, which deletes the incoming object
    const again = await findOwned(sql, id, subject)
    if (again.status !== 'pending') return { outcome: again.status, row: again }
    // Forms signed before uploads went to incoming keys POST to the final key; they expire
    // within UPLOAD_URL_TTL_SECONDS of the deploy that introduced incoming keys, and no form
    // signed since can write a final key, so this only ever finds such an upload
    source = row.key
    head = await s3(() => storage.headObject(source, signal))
  }
  if (!head) throw new Errors.Conflict('The image has not been uploaded yet: POST the file to the upload URL first')
  const etag = head.etag
  if (etag === null) throw new Errors.StorageUnavailable()

  const declared = Number(row.declared_size)
  let reason: string | null = null
  let dimensions: Dimensions | null = null
  if (head.size !== declared) reason = `The uploaded object is ${head.size} bytes but ${declared} were declared`
  else if (head.size > maxUploadBytes(config)) reason = `The uploaded object exceeds the upload limit of ${config.MAX_UPLOAD_SIZE_MB} MB`
  else if (head.contentType !== row.content_type) reason = `The uploaded object is stored as ${head.contentType ?? 'no type'} but ${row.content_type} was declared`
  else {
    const header = await s3(() => storage.getRange(source, 0, Math.min(HEADER_BYTES, head.size) - 1, { signal, ifMatch: etag }))
    const actual = sniffImageType(header)
    if (actual !== row.content_type) reason = `The file content is ${actual ?? 'not an accepted image type'}, not ${row.content_type}`
    else {
      const inspection = inspectImage(header, actual)
      if (inspection.ok) dimensions = inspection.dimensions
      else reason = inspection.reason
    }
  }

  if (reason !== null) {
    await s3(() => storage.deleteObject(source, signal))
    const [rejected] = await sql<ImageRow[]>`
      update images set status = 'rejected', rejection_reason = ${reason}, updated_at = now()
      where id = ${id} and status = 'pending' returning *`
    return settle(sql, id, subject, rejected, 'rejected')
  }

  // The final object exists, tagged ready, before the row says ready. Retrying after a
  // failure anywhere here is safe: the incoming object stays until the row is ready.
  await s3(() => storage.copyObject(source, row.key, { ifMatch: etag, contentType: row.content_type, tags: READY_TAGS, signal }))
  const [ready] = await sql<ImageRow[]>`
    update images set status = 'ready', size = ${head.size}, width = ${dimensions?.width ?? null},
      height = ${dimensions?.height ?? null}, completed_at = now(), updated_at = now()
    where id = ${id} and status = 'pending' returning *`
  if (ready && source !== row.key) {
    // Best effort: a leftover incoming object is never served, keeps its state=pending tag
    // and so expires by the bucket's lifecycle rule
    await storage.deleteObject(source, signal).catch(() => {})
  }
  return settle(sql, id, subject, ready, 'ready')
}

async function settle (sql: Sql, id: string, subject: string, won: ImageRow | undefined, outcome: 'ready' | 'rejected'): Promise<CompletionResult> {
  if (won) return { outcome, row: won }
  // A concurrent completion got there first (or cleanup removed the row): report what stands
  const row = await findOwned(sql, id, subject)
  if (row.status === 'pending') throw new Errors.Conflict('The upload is being completed, retry shortly')
  return { outcome: row.status, row }
}

/** The upload, only for the subject that started it; anyone else gets the same 404 as a missing id. */
async function findOwned (sql: Sql, id: string, subject: string): Promise<ImageRow> {
  const [row] = await sql<ImageRow[]>`select * from images where id = ${id} and uploaded_by = ${subject}`
  if (!row) throw new Errors.NotFound('Upload')
  return row
}

/**
 * A failed ETag condition means the object was replaced while we verified it: 409, complete
 * again. Other S3 failures are an outage to retry, not a 500.
 */
async function s3<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isPreconditionFailed(err)) throw Object.assign(new Errors.Conflict('The uploaded file changed while it was being verified: complete the upload again'), { cause: err })
    throw Object.assign(new Errors.StorageUnavailable(), { cause: err })
  }
}

/**
 * Per-subject presign limit: a sliding window in this process. It must hold even when
 * RATE_LIMIT_ENABLED=false (then @fastify/rate-limit is not registered at all and a route's
 * rateLimit config does nothing), and registering a second rate-limit instance would clash with
 * the global one's decorators. Per process means N processes allow N x the limit: this guards
 * against a runaway client creating rows, it is not a quota.
 */
export function createSubjectLimiter ({ max, windowMs, now = Date.now }: { max: number, windowMs: number, now?: () => number }) {
  const hits = new Map<string, number[]>()
  let lastSweep = now()
  return {
    /** Records a hit; returns 0 when allowed, else the seconds until one more is allowed. */
    hit (subject: string): number {
      const t = now()
      if (t - lastSweep > windowMs) {
        // Forget idle subjects so the map stays bounded by the active ones
        for (const [s, list] of hits) if ((list.at(-1) ?? 0) <= t - windowMs) hits.delete(s)
        lastSweep = t
      }
      const list = (hits.get(subject) ?? []).filter(x => x > t - windowMs)
      if (list.length >= max) {
        hits.set(subject, list)
        return Math.max(1, Math.ceil((list[0]! + windowMs - t) / 1000))
      }
      list.push(t)
      hits.set(subject, list)
      return 0
    }
  }
}

export const PRESIGN_LIMIT = { max: 30, windowMs: 60_000 } as const
