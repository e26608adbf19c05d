// Drill: Heroku's over-plan state. Writes answer a clean 503, reads keep working, the process
// stays up. Two forms: privileges revoked from the app's role (what Heroku does), and the
// database switched to read-only transactions.
// @see https://devcenter.heroku.com/articles/heroku-postgres-plans#row-limits
import { test } from 'node:test'
import assert from 'node:assert/strict'
import postgres from 'postgres'
import { drillSetup, appRole, startBuilt, send, bearer, writerToken, type Outcome } from '../helpers/drill.ts'
import type { ServerProcess } from '../helpers/spawn-server.ts'
import type { TestServices } from '../helpers/services.ts'
import { fixture, uploadOverHttp } from '../helpers/uploads.ts'

/**
 * Each `pass` reads other URLs than the passes before it: the public cache keeps a page for
 * seconds, and a failed write does not invalidate it, so repeating a URL could be answered
 * without Postgres. The drill's seed has collections drill-1 to drill-3.
 */
// One writer throughout: an upload can be completed only by whoever started it
const WRITER = 'auth0|read-only-drill'

async function writesAndReads (server: ServerProcess, services: TestServices, collectionId: string, pass: number): Promise<{ writes: Outcome[], reads: Outcome[] }> {
  const h = { ...bearer(writerToken(services, WRITER)), 'content-type': 'application/json' }
  const writes = [
    await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: h, body: JSON.stringify({ contentType: 'image/png', size: 12345 }), label: 'presign' }),
    await send(`${server.url}/api/v1/collections`, { method: 'POST', headers: h, body: JSON.stringify({ slug: `ro-${Date.now()}`, title: 'Read-only drill' }), label: 'create collection' }),
    await send(`${server.url}/api/v1/collections/${collectionId}`, { method: 'PATCH', headers: h, body: JSON.stringify({ title: 'Renamed' }), label: 'update collection' })
  ]
  const reads = [
    await send(`${server.url}/api/v1/images?limit=${13 + 2 * pass}`, { label: 'public list' }),
    await send(`${server.url}/api/v1/images?limit=${14 + 2 * pass}`, { headers: h, label: 'writer list' }),
    await send(`${server.url}/api/v1/collections/drill-${1 + pass}`, { label: 'collection' }),
    await send(`${server.url}/api/v1/collections?limit=${10 + pass}`, { label: 'collections' })
  ]
  return { writes, reads }
}

/**
 * The other write routes, run only while writes are refused: they would delete and reorder
 * the drill's data. `uploadId` names a pending upload to complete.
 */
interface Targets { imageId: string, collectionIds: string[], collectionToDelete: string }

async function writeTargets (admin: postgres.Sql): Promise<Targets> {
  const [image] = await admin<{ id: string }[]>`select id from images where status = 'ready' order by position, id limit 1`
  const collections = await admin<{ id: string, slug: string }[]>`select id, slug from collections order by position, id`
  return { imageId: image!.id, collectionIds: collections.map(c => c.id), collectionToDelete: collections.find(c => c.slug === 'drill-3')!.id }
}

async function moreWrites (server: ServerProcess, services: TestServices, targets: Targets, uploadId?: string): Promise<Outcome[]> {
  const auth = bearer(writerToken(services, WRITER))
  const h = { ...auth, 'content-type': 'application/json' }
  const out = [
    await send(`${server.url}/api/v1/images/${targets.imageId}`, { method: 'PATCH', headers: h, body: JSON.stringify({ title: 'Renamed while read-only' }), label: 'update image' }),
    await send(`${server.url}/api/v1/images/${targets.imageId}`, { method: 'DELETE', headers: auth, label: 'delete image' }),
    await send(`${server.url}/api/v1/collections/reorder`, { method: 'POST', headers: h, body: JSON.stringify({ ids: [...targets.collectionIds].reverse() }), label: 'reorder collections' }),
    await send(`${server.url}/api/v1/collections/${targets.collectionToDelete}`, { method: 'DELETE', headers: auth, label: 'delete collection' })
  ]
  if (uploadId !== undefined) out.push(await send(`${server.url}/api/v1/uploads/${uploadId}/complete`, { method: 'POST', headers: auth, label: 'complete upload' }))
  return out
}

function assertReadOnlyBehaviour (server: ServerProcess, { writes, reads }: { writes: Outcome[], reads: Outcome[] }): void {
  for (const o of writes) {
    assert.equal(o.status, 503, `${o.label}: ${o.status} ${o.body}`)
    assert.equal(o.code, 'GALLERY_DATABASE_UNAVAILABLE', `${o.label}: ${o.body}`)
  }
  for (const o of reads) assert.equal(o.status, 200, `${o.label}: ${o.status} ${o.body}`)
  assert.ok(server.alive())
}

test('privileges revoked from the app role: writes 503, reads 200', { timeout: 90_000 }, async (t) => {
  const drill = await drillSetup(t)
  const { services, admin } = drill
  const role = 'gallery_app_ro_drill'
  const url = await appRole(t, drill, role)
  const server = await startBuilt(t, { DATABASE_URL: url })
  const id = (await admin<{ id: string }[]>`select id from collections where slug = 'drill-1'`)[0]?.id
  const before = await writesAndReads(server, services, id!, 0)
  assert.deepEqual(before.writes.map(o => o.status), [201, 201, 200], `writes before revoke: ${JSON.stringify(before.writes.map(o => o.body))}`)

  // An upload whose file is in the bucket, to complete after the revoke: completing writes
  const presigned = await uploadOverHttp(server.url, writerToken(services, WRITER), fixture('sample.jpg'), 'image/jpeg')

  await admin.unsafe(`revoke insert, update, delete on all tables in schema public from ${role}`)
  const after = await writesAndReads(server, services, id!, 1)
  after.writes.push(...await moreWrites(server, services, await writeTargets(admin), presigned.id))
  assert.equal(after.writes.length, 8, 'every write route')
  assertReadOnlyBehaviour(server, after)
})

test('database in read-only transactions: writes 503, reads 200', { timeout: 90_000 }, async (t) => {
  const { services, admin, database } = await drillSetup(t)
  const id = (await admin<{ id: string }[]>`select id from collections where slug = 'drill-1'`)[0]?.id
  const targets = await writeTargets(admin)
  await admin.end({ timeout: 5 })
  // ALTER DATABASE from a session on another database: sessions on this one turn read-only
  const server0 = postgres(services.adminUrl, { max: 1, onnotice: () => {} })
  t.after(async () => {
    await server0.unsafe(`alter database "${database}" reset default_transaction_read_only`)
    await server0.end({ timeout: 5 })
  })
  await server0.unsafe(`alter database "${database}" set default_transaction_read_only = on`)
  // New sessions pick the setting up: the app connects after it is set
  const server = await startBuilt(t)
  const during = await writesAndReads(server, services, id!, 0)
  // Every write route but completing an upload: the presign above was refused, so none is pending
  during.writes.push(...await moreWrites(server, services, targets))
  assert.equal(during.writes.length, 7)
  assertReadOnlyBehaviour(server, during)
})
