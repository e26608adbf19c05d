// app.json `postdeploy` for review apps: demo content so a reviewer sees a working gallery.
// Two published collections with a few generated images uploaded to the app's own S3 prefix.
// Idempotent: does nothing when collections already exist. Needs only `dependencies`.
import { deflateSync } from 'node:zlib'
import { randomUUID } from 'node:crypto'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { loadConfigOrReport } from '../lib/config.ts'
import { createSql } from '../lib/db.ts'
import { createStorage } from '../lib/storage.ts'
import { notifyChanged } from '../lib/public-cache.ts'

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32 (buf: Buffer): number {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function chunk (type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}
/** A small gradient PNG, so the seed needs no image files or image libraries. */
export function gradientPng (width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const rows = []
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3)
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = (r * x) / width
      row[2 + x * 3] = (g * y) / height
      row[3 + x * 3] = b
    }
    rows.push(row)
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8; ihdr[9] = 2
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))])
}

const DEMO = [
  { slug: 'copper-prints', title: 'Copper prints', description: 'Etchings printed from copper plates.', colors: [[184, 115, 51], [205, 127, 50], [150, 90, 40]] },
  { slug: 'nail-designs', title: 'Nail designs', description: 'This season\'s designs.', colors: [[219, 112, 147], [147, 112, 219], [255, 182, 193]] }
] as const

async function main (): Promise<number> {
  const config = loadConfigOrReport()
  if (!config) return 2
  if (config.ENVIRONMENT === 'production') { console.error('seed: refusing to add demo content in production'); return 1 }
  const sql = createSql(config, { max: 1, applicationName: 'gallery-api-seed' })
  const storage = createStorage(config)
  try {
    const [existing] = await sql<{ n: number }[]>`select count(*)::int as n from collections`
    const n = existing!.n
    if (n > 0) { console.log(`seed: ${n} collections exist, nothing to do`); return 0 }
    let images = 0
    for (const [ci, demo] of DEMO.entries()) {
      const uploaded: { key: string, size: number, title: string, position: number }[] = []
      for (const [i, color] of demo.colors.entries()) {
        const body = gradientPng(320, 240, [...color])
        const key = `${storage.prefix}/${randomUUID()}.png`
        await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body, ContentType: 'image/png' }))
        uploaded.push({ key, size: body.length, title: `${demo.title} #${i + 1}`, position: i })
      }
      await sql.begin(async (tx) => {
        const [collection] = await tx<{ id: string }[]>`
          insert into collections (slug, title, description, published, position)
          values (${demo.slug}, ${demo.title}, ${demo.description}, true, ${ci}) returning id`
        for (const img of uploaded) {
          await tx`
            insert into images (collection_id, status, key, content_type, declared_size, size, width, height, title, alt_text, position, published, uploaded_by, expires_at, completed_at)
            values (${collection!.id}, 'ready', ${img.key}, 'image/png', ${img.size}, ${img.size}, 320, 240, ${img.title}, ${`Demo image: ${img.title}`}, ${img.position}, true, 'seed', now(), now())`
          images++
        }
        await notifyChanged(tx)
      })
    }
    console.log(`seed: created ${DEMO.length} collections and ${images} images under ${storage.prefix}/`)
    return 0
  } catch (err) {
    console.error(`seed failed: ${(err as Error).message}`)
    return 1
  } finally {
    storage.destroy()
    await sql.end({ timeout: 5 })
  }
}

process.exitCode = await main()
