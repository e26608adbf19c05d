// S3 access shared by the web process and the commands in bin/: one client from config.
import {
  S3Client, HeadBucketCommand, DeleteObjectCommand, HeadObjectCommand, GetObjectCommand, CopyObjectCommand,
  ListObjectsCommand, DeleteObjectsCommand, S3ServiceException
} from '@aws-sdk/client-s3'
import { type Config, keyPrefix } from './config.ts'

export function createStorage (config: Config) {
  const client = new S3Client({
    region: config.AWS_REGION,
    credentials: { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY },
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    // Fail fast and let the caller answer 503; the SDK's default retries would outlast the request budget
    maxAttempts: 2,
    // Image URLs are presigned GETs for browsers, which never check an S3 checksum. By default
    // the SDK signs x-amz-checksum-mode=ENABLED into each of them (28 bytes of every URL, 24
    // URLs a list page), asking S3 for checksums nobody reads (aws-sdk-js-v3#6994). The one
    // GET the API reads itself, an upload's first bytes (a range), has no whole-object checksum
    // to check. Request checksums keep the default: DeleteObjects needs one.
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 }
  })
  const bucket = config.S3_BUCKET_NAME
  const prefix = keyPrefix(config)

  return {
    client,
    bucket,
    prefix,
    async headBucket (signal?: AbortSignal): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal })
    },
    /** Deleting a key that is already gone is not an error (S3 answers 204 either way). */
    async deleteObject (key: string, signal?: AbortSignal): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
    },
    /** Size, type and ETag of an object, or null when there is no such key. */
    async headObject (key: string, signal?: AbortSignal): Promise<ObjectHead | null> {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
        return { size: out.ContentLength ?? 0, contentType: out.ContentType ?? null, etag: out.ETag ?? null }
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },
    /**
     * Bytes start..end (inclusive, like the HTTP Range header) of an object, or fewer if it is
     * shorter. With `ifMatch`, S3 answers 412 (PreconditionFailed) when the object is no longer
     * the one with that ETag (s3rver ignores If-Match on GET).
     */
    async getRange (key: string, start: number, end: number, { signal, ifMatch }: { signal?: AbortSignal, ifMatch?: string } = {}): Promise<Buffer> {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: ifMatch }), { abortSignal: signal })
      if (!out.Body) return Buffer.alloc(0)
      // A server that ignores Range answers 200 with the whole object (up to 5 GB): read only
      // what was asked for and drop the connection, never buffer the whole body
      return await readAtMost(out.Body as AsyncIterable<Uint8Array>, end - start + 1)
    },
    /**
     * Server-side copy of `source` to `target`, only while `source` still has ETag `ifMatch`
     * (CopySourceIfMatch: S3 answers 412 otherwise). Metadata is replaced by exactly
     * `contentType`, and the tag set by `tags` (TaggingDirective REPLACE), so the copy never
     * inherits the source's tags. s3rver enforces neither the condition nor the tagging: it
     * copies the bytes and the Content-Type, and leaves the copy untagged.
     */
    async copyObject (source: string, target: string, { ifMatch, contentType, tags, signal }: { ifMatch: string, contentType: string, tags: Record<string, string>, signal?: AbortSignal }): Promise<void> {
      await client.send(new CopyObjectCommand({
        Bucket: bucket,
        Key: target,
        CopySource: `${bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
        CopySourceIfMatch: ifMatch,
        MetadataDirective: 'REPLACE',
        ContentType: contentType,
        TaggingDirective: 'REPLACE',
        Tagging: new URLSearchParams(tags).toString()
      }), { abortSignal: signal })
    },
    /**
     * Every key under `keyPrefix` (pass a trailing slash to stay inside one folder), page by page.
     * ListObjects (v1) with Marker = last key: v2's continuation tokens are DES-encrypted by
     * s3rver, which Node 24's OpenSSL 3 refuses, so v2 cannot page against the local S3.
     */
    async * listByPrefix (keyPrefix: string, { pageSize, signal }: { pageSize?: number, signal?: AbortSignal } = {}): AsyncGenerator<string[]> {
      let Marker: string | undefined
      for (;;) {
        const out = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: keyPrefix, Marker, MaxKeys: pageSize }), { abortSignal: signal })
        const keys = (out.Contents ?? []).map(o => o.Key).filter((k): k is string => typeof k === 'string')
        if (keys.length > 0) yield keys
        if (out.IsTruncated !== true || keys.length === 0) return
        Marker = keys.at(-1)
      }
    },
    /** Deletes keys in batches of 1000 (the DeleteObjects limit); missing keys count as deleted. Throws if any key failed. */
    async deleteMany (keys: string[], signal?: AbortSignal): Promise<number> {
      let deleted = 0
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000)
        const out = await client.send(new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map(Key => ({ Key })), Quiet: true }
        }), { abortSignal: signal })
        const failed = out.Errors ?? []
        if (failed.length > 0) throw new Error(`S3 refused to delete ${failed.length} object(s), first: ${failed[0]?.Key ?? '?'} (${failed[0]?.Code ?? 'unknown'})`)
        deleted += batch.length
      }
      return deleted
    },
    destroy () { client.destroy() }
  }
}

export interface ObjectHead { size: number, contentType: string | null, etag: string | null }

/**
 * The first `limit` bytes of a stream; stops reading there and destroys the stream (ending
 * the HTTP response early) instead of draining it.
 */
export async function readAtMost (body: AsyncIterable<Uint8Array> & { destroy?: () => void }, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  try {
    for await (const chunk of body) {
      const room = limit - length
      const part = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, room))
      chunks.push(part)
      length += part.length
      if (length >= limit) break
    }
  } finally {
    // break already ends a Readable's iterator (destroying it); other iterables get it explicitly
    body.destroy?.()
  }
  return Buffer.concat(chunks, length)
}

/** True when S3 refused a conditional request because the object's ETag changed (HTTP 412). */
export function isPreconditionFailed (err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'PreconditionFailed' || err.$metadata.httpStatusCode === 412)
}

function isNotFound (err: unknown): boolean {
  if (err instanceof S3ServiceException) return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404
  return false
}

export type Storage = ReturnType<typeof createStorage>
