// URLs for image objects: ASSET_BASE_URL + key when a CDN fronts the bucket; otherwise
// presigned GET URLs signed with a signing time rounded down to a window, so the same key
// gives the same URL for the whole window. List responses then stay byte-identical (cacheable,
// stable ETags) and a list does not cost 24 signatures per request.
// @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'

export interface ImageUrlOptions {
  assetBaseUrl?: string
  client: S3Client
  bucket: string
  /** Signing time is floor(now / windowMs) * windowMs. */
  windowMs?: number
  /** Lifetime from the signing time; must exceed windowMs so a URL served late in its window still works. */
  expiresInSeconds?: number
  maxEntries?: number
  now?: () => number
}

// The keys read often are the first pages of the list and of each collection: a few hundred.
// Least recently used keys go first, so a crawler walking the whole gallery turns over the cold
// end instead of growing every process's cache to the gallery's size (at 655 bytes a key, the
// bench's 5,000-row walk held ~3.3 MB for the rest of the hour) or flushing the hot keys.
// Signing a key again costs tens of microseconds.
export const URL_CACHE_MAX_ENTRIES = 2000

export function createImageUrls ({ assetBaseUrl, client, bucket, windowMs = 3_600_000, expiresInSeconds = 7200, maxEntries = URL_CACHE_MAX_ENTRIES, now = Date.now }: ImageUrlOptions) {
  if (expiresInSeconds * 1000 <= windowMs) throw new Error('expiresInSeconds must exceed the signing window')
  const base = assetBaseUrl?.replace(/\/+$/, '')
  let window = -1
  // A signing in flight is shared as its promise; once signed, the entry is the URL itself, as
  // a flat copy. The SDK builds the URL by concatenation, and a kept concatenation keeps its
  // pieces: per entry, measured on the heap, 1211 bytes as the promise, 826 as the string the
  // SDK returns, 655 as a copy.
  const urls = new Map<string, string | Promise<string>>()

  return {
    /** URL for an object key; cached per key and window. */
    async url (key: string): Promise<string> {
      if (base !== undefined) return `${base}/${key.split('/').map(encodeURIComponent).join('/')}`
      const current = Math.floor(now() / windowMs)
      // A new window invalidates every URL at once
      if (current !== window) { urls.clear(); window = current }
      const cached = urls.get(key)
      if (cached !== undefined) {
        // Most recently used goes last (a Map iterates in insertion order)
        urls.delete(key)
        urls.set(key, cached)
        return await cached
      }
      for (const [oldest] of urls) {
        if (urls.size < maxEntries) break
        urls.delete(oldest)
      }
      const signing = getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
        expiresIn: expiresInSeconds,
        signingDate: new Date(current * windowMs)
      })
      urls.set(key, signing)
      // Kept only if the cache was not cleared meanwhile; a failed signature is not kept at all
      signing.then(
        (url) => { if (urls.get(key) === signing) urls.set(key, Buffer.from(url).toString()) },
        () => { if (urls.get(key) === signing) urls.delete(key) }
      )
      return await signing
    },
    size: () => urls.size,
    /** The cached keys, least recently used first. */
    keys: () => [...urls.keys()]
  }
}

export type ImageUrls = ReturnType<typeof createImageUrls>
