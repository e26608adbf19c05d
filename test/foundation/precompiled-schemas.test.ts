// Route validators and serializers generated at build time (lib/precompiled-schemas.ts) must
// answer exactly as the ones compiled at boot: same status, same body, byte for byte.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helpers/build.ts'
import { PRECOMPILED_FILE, SchemaRecorder } from '../../lib/precompiled-schemas.ts'

test('precompiled validators and serializers answer byte for byte as compiled ones', async (t) => {
  const recorder = new SchemaRecorder()
  await build(t, {}, { recordSchemas: recorder })
  assert.ok(recorder.modules.size > 10, `recorded ${recorder.modules.size} modules`)
  const dir = await mkdtemp(join(tmpdir(), 'precompiled-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, PRECOMPILED_FILE), recorder.source())

  const logs: { msg: string, precompiled?: number, compiled?: number }[] = []
  const stream = { write: (line: string) => { logs.push(JSON.parse(line)) } }
  const plain = await build(t, {}, { precompiledDir: join(dir, 'none') })
  const pre = await build(t, {}, { precompiledDir: dir, logger: { level: 'info', stream } })
  assert.deepEqual(logs.filter(l => /route schemas/.test(l.msg)).map(l => [l.msg, l.compiled, (l.precompiled ?? 0) > 0]), [['route schemas precompiled at build', 0, true]])

  const auth = bearer(pre.services.issuer.token({ sub: 'auth0|precompiled', permissions: ['write:gallery'] }))
  const slug = `precompiled-${randomUUID().slice(0, 8)}`
  const created = await plain.app.inject({ method: 'POST', url: '/api/v1/collections', headers: auth, payload: { slug, title: 'Precompiled', published: true } })
  assert.equal(created.statusCode, 201, created.body)
  const requests = [
    // Query strings: coerced, bounded, unknown parameters refused
    { url: '/api/v1/images?limit=5' },
    { url: '/api/v1/images?limit=abc' },
    { url: '/api/v1/images?limit=100000' },
    { url: '/api/v1/images?surprise=1' },
    { url: '/api/v1/images?cursor=%%%' },
    { url: '/api/v1/collections?limit=2' },
    { url: `/api/v1/collections/${slug}` },
    { url: '/api/v1/collections/no-such-collection' },
    // Params: formats
    { url: '/api/v1/images/not-a-uuid' },
    { url: `/api/v1/images/${randomUUID()}` },
    { url: '/api/v1/me', headers: auth },
    // Bodies: not coerced, required and unknown properties, enums, formats
    { method: 'POST' as const, url: '/api/v1/collections', headers: auth, payload: { slug: 'x-bad', title: 'B', published: 'false' } },
    { method: 'POST' as const, url: '/api/v1/collections', headers: auth, payload: { title: 'no slug' } },
    { method: 'POST' as const, url: '/api/v1/collections', headers: auth, payload: { slug: 'x-extra', title: 'E', extra: true } },
    { method: 'PATCH' as const, url: `/api/v1/collections/${slug}`, headers: auth, payload: { position: '3' } },
    { method: 'PATCH' as const, url: `/api/v1/images/${randomUUID()}`, headers: auth, payload: { collectionId: 'nope' } },
    { method: 'POST' as const, url: '/api/v1/uploads', headers: auth, payload: { contentType: 'text/html', size: 10 } },
    { method: 'POST' as const, url: '/api/v1/uploads', headers: auth, payload: { contentType: 'image/png', size: '10' } },
    { method: 'POST' as const, url: `/api/v1/uploads/${randomUUID()}/complete`, headers: auth }
  ]
  for (const req of requests) {
    const [a, b] = [await plain.app.inject(req), await pre.app.inject(req)]
    const label = `${req.method ?? 'GET'} ${req.url}`
    assert.equal(b.statusCode, a.statusCode, `${label}: ${a.body} vs ${b.body}`)
    assert.equal(b.body, a.body, label)
  }
  // A presign's body holds a fresh id and signature each time: same status and same fields
  const presign = { method: 'POST' as const, url: '/api/v1/uploads', headers: auth, payload: { contentType: 'image/png', size: 1234 } }
  const [a, b] = [await plain.app.inject(presign), await pre.app.inject(presign)]
  assert.equal(b.statusCode, a.statusCode, b.body)
  assert.deepEqual(Object.keys(b.json()).sort(), Object.keys(a.json()).sort())
})
