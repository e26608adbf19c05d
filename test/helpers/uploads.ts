// Upload test helpers: real image bytes (PNG built with zlib, fixtures from a real encoder), a
// presign call, and the multipart POST a browser would send to the bucket over real HTTP.
import { deflateSync, crc32 } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import type { App } from '../../app.ts'
import { bearer } from './build.ts'

export const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, '..', 'fixtures', name))

function chunk (type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([head, body, crc])
}

/**
 * A valid RGB PNG. `noise` fills it with random pixels, which deflate cannot shrink, so the
 * file size is about width x height x 3 bytes (how the browser test gets a real >= 1 MB image).
 */
export function makePng (width: number, height: number, { noise = false }: { noise?: boolean } = {}): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type RGB
  const row = width * 3
  const raw = Buffer.alloc((row + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (row + 1)] = 0 // filter: none
    const line = noise ? randomBytes(row) : Buffer.alloc(row, (y * 255) / Math.max(1, height - 1))
    line.copy(raw, y * (row + 1) + 1)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: noise ? 0 : 6 })),
    chunk('IEND', Buffer.alloc(0))
  ])
}

/** A 1 x 1 GIF89a. */
export function makeGif (): Buffer {
  return Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64')
}

export interface Presigned { id: string, url: string, fields: Record<string, string>, expiresAt: string, maxSize: number }

/** The key the image is served from once complete; the form's key is the incoming one beside it. */
export function finalKey (upload: Presigned): string {
  return upload.fields.key!.replace('/incoming/', '/')
}

/**
 * s3rver deletes the keys of one DeleteObjects request concurrently, and each delete removes
 * its folder once empty: two deletes racing for the last objects of a folder answer
 * InternalError. An object that is never deleted keeps `<prefix>/incoming/` from emptying.
 * (Real S3 has no folders; this is only for the local S3.)
 */
export async function pinIncomingFolder (app: App): Promise<void> {
  await app.storage.client.send(new PutObjectCommand({ Bucket: app.storage.bucket, Key: `${app.storage.prefix}/incoming/.s3rver-keep`, Body: 'x' }))
}

export async function presign (app: App, token: string, body: Record<string, unknown>) {
  return await app.inject({ method: 'POST', url: '/api/v1/uploads', headers: bearer(token), payload: body })
}

export async function complete (app: App, token: string, id: string) {
  return await app.inject({ method: 'POST', url: `/api/v1/uploads/${id}/complete`, headers: bearer(token) })
}

/** The browser's part: a multipart POST straight to the bucket, policy fields first, the file last. */
export async function postToBucket (upload: Presigned, bytes: Buffer, { type, filename = 'upload' }: { type: string, filename?: string }): Promise<Response> {
  const form = new FormData()
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value)
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), filename)
  const res = await fetch(upload.url, { method: 'POST', body: form })
  await res.arrayBuffer()
  return res
}

/** `upload` against a running server over HTTP (the drills' built server), with no filename. */
export async function uploadOverHttp (baseUrl: string, token: string, bytes: Buffer, contentType: string): Promise<Presigned> {
  const res = await fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ contentType, size: bytes.length }) })
  const body = await res.text()
  if (res.status !== 201) throw new Error(`presign answered ${res.status}: ${body}`)
  const presigned = JSON.parse(body) as Presigned
  const s3 = await postToBucket(presigned, bytes, { type: contentType })
  if (!s3.ok) throw new Error(`S3 POST answered ${s3.status}`)
  return presigned
}

/** Presign, then POST the bytes to S3; returns the presign body. Throws when either step fails. */
export async function upload (app: App, token: string, bytes: Buffer, contentType: string, declaredSize = bytes.length): Promise<Presigned> {
  const res = await presign(app, token, { contentType, size: declaredSize, filename: 'photo.bin' })
  if (res.statusCode !== 201) throw new Error(`presign answered ${res.statusCode}: ${res.body}`)
  const presigned = res.json<Presigned>()
  const s3 = await postToBucket(presigned, bytes, { type: contentType })
  if (!s3.ok) throw new Error(`S3 POST answered ${s3.status}`)
  return presigned
}
