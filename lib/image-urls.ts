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

export function createImageUrls ({ assetBaseUrl, client, bucket, windowMs = 3_600_000, expiresInSeconds = 7200, maxEntries = 10_000, now = Date.now }: ImageUrlOptions) {
  if (expiresInSeconds * 1000 <= windowMs) throw new Error('expiresInSeconds must exceed the signing window')
  const base = assetBaseUrl?.replace(/\/+$/, '')
  let window = -1
  const urls = new Map<string, Promise<string>>()

  return {
    /** URL for an object key; cached per key and window. */
    async url (key: string): Promise<string> {
      if (base !== undefined) return `${base}/${key.split('/').map(encodeURIComponent).join('/')}`
      const current = Math.floor(now() / windowMs)
      // A new window invalidates every URL at once; the size bound keeps memory flat in between
      if (current !== window || urls.size >= maxEntries) { urls.clear(); window = current }
      let url = urls.get(key)
      if (url === undefined) {
        url = getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
          expiresIn: expiresInSeconds,
          signingDate: new Date(current * windowMs)
        })
        // A failed signature must not stay cached
        url.catch(() => { if (urls.get(key) === url) urls.delete(key) })
        urls.set(key, url)
      }
      return await url
    },
    size: () => urls.size
  }
}

export type ImageUrls = ReturnType<typeof createImageUrls>
