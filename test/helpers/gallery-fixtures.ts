// Gallery fixtures: rows inserted straight into the test database (uploads have their own
// routes and tests), tokens for writers and readers, and an S3 client on s3rver.
import type { TestContext } from 'node:test'
import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { S3Client, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { setTimeout as sleep } from 'node:timers/promises'
import assert from 'node:assert/strict'
import type { TestServices } from './services.ts'
import { bearer, build, type Built } from './build.ts'
import type { AppOptions } from '../../app.ts'

export type Db = postgres.Sql

/**
 * build(t), then wait until load shedding (plugins/load-shedding.ts) has seen a calm event loop: starting
 * the local services blocks the loop, and the first requests of a file would otherwise get 503.
 */
export async function buildGallery (t: TestContext, env: Record<string, string> = {}, options: AppOptions = {}): Promise<Built> {
  const built = await build(t, env, options)
  // Absent when load shedding is turned off
  const overloaded = (built.app as { overloaded?: () => boolean }).overloaded
  for (let i = 0; i < 100 && overloaded?.() === true; i++) await sleep(100)
  return built
}

/** Resolves when `predicate` holds; the deadline only guards against a hang, it asserts no speed. */
export async function until (predicate: () => boolean | Promise<boolean>, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await predicate())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** A small pool on the test database, closed after the test. */
export function testDb (t: TestContext, services: TestServices): Db {
  const sql = postgres(services.databaseUrl, { max: 4, onnotice: () => {} })
  t.after(() => sql.end({ timeout: 5 }))
  return sql
}

export function writer (services: TestServices, sub = 'auth0|owner'): { authorization: string } {
  return bearer(services.issuer.token({ sub, permissions: ['write:gallery'] }))
}

export function reader (services: TestServices, sub = 'auth0|reader'): { authorization: string } {
  return bearer(services.issuer.token({ sub, permissions: [] }))
}

/** A short unique suffix so tests sharing one database never see each other's rows. */
export function unique (prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

export interface CollectionFixture { id: string, slug: string }

export async function insertCollection (sql: Db, opts: { slug?: string, title?: string, published?: boolean, position?: number } = {}): Promise<CollectionFixture> {
  const slug = opts.slug ?? unique('c')
  const [row] = await sql<{ id: string }[]>`
    insert into collections (slug, title, published, position)
    values (${slug}, ${opts.title ?? `Collection ${slug}`}, ${opts.published ?? true}, ${opts.position ?? 0})
    returning id`
  return { id: row!.id, slug }
}

export interface ImageFixture { id: string, key: string }

export async function insertImage (sql: Db, opts: {
  status?: 'pending' | 'ready' | 'rejected'
  published?: boolean
  collectionId?: string | null
  position?: number
  tags?: string[]
  title?: string
  key?: string
  uploadedBy?: string
} = {}): Promise<ImageFixture> {
  const id = randomUUID()
  const key = opts.key ?? `images/${id}.jpg`
  await sql`
    insert into images (id, collection_id, status, key, content_type, declared_size, size, title, tags, position, published, uploaded_by, expires_at)
    values (${id}, ${opts.collectionId ?? null}, ${opts.status ?? 'ready'}, ${key}, 'image/jpeg', 1234,
      ${opts.status === 'pending' ? null : 1234}, ${opts.title ?? ''}, ${opts.tags ?? []}::text[], ${opts.position ?? 0},
      ${opts.published ?? true}, ${opts.uploadedBy ?? 'auth0|owner'}, now() + interval '10 minutes')`
  return { id, key }
}

export function s3Client (services: TestServices): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: services.s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
  })
}

export async function putObject (services: TestServices, key: string, body: Buffer = Buffer.from([0xff, 0xd8, 0xff, 0xe0])): Promise<void> {
  const client = s3Client(services)
  try {
    await client.send(new PutObjectCommand({ Bucket: services.s3.bucket, Key: key, Body: body, ContentType: 'image/jpeg' }))
  } finally {
    client.destroy()
  }
}

export async function objectExists (services: TestServices, key: string): Promise<boolean> {
  const client = s3Client(services)
  try {
    await client.send(new HeadObjectCommand({ Bucket: services.s3.bucket, Key: key }))
    return true
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false
    throw err
  } finally {
    client.destroy()
  }
}
