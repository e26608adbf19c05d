// Drill: the identity provider's JWKS hanging or down, and the S3 endpoint down or hanging.
// Readiness reports the failing dependency, unrelated routes keep working, nothing hangs: a
// token whose key is cached still works; an unknown key answers 401/503 within JWKS_TIMEOUT_MS.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { drillSetup, startBuilt, send, bearer, writerToken } from '../helpers/drill.ts'
import { until } from '../helpers/spawn-server.ts'
import { newKey } from '../../dev/issuer.ts'
import { freePort } from '../../dev/postgres.ts'

const JWKS_TIMEOUT_MS = 1500
const REQUEST_TIMEOUT_MS = 4000
// Readiness gives each check 2 s (lib/readiness.ts); the rest is the client's share
const READINESS_MS = 2000 + 1000
// An unrelated route waits on nothing that is down: anything near a timeout is a hang
const UNRELATED_MS = 1000

/** Polls readiness until it reports `check` failing; every answer, failing or not, must come in time. */
async function readinessFails (url: string, check: 'jwks' | 's3'): Promise<boolean> {
  return await until(async () => {
    const o = await send(`${url}/api/v1/health`, { timeoutMs: 10_000 })
    assert.ok(o.ms <= READINESS_MS, `readiness answered after ${o.ms} ms: ${o.status} ${o.error ?? o.body}`)
    return o.status === 503 && (JSON.parse(o.body ?? '{}') as { checks?: Record<string, { status?: string }> }).checks?.[check]?.status === 'fail'
  }, 15_000, 250)
}

for (const mode of ['hang', 'down'] as const) {
  test(`JWKS ${mode}: readiness reports it, cached keys and public routes keep working`, { timeout: 90_000 }, async (t) => {
    const { services } = await drillSetup(t)
    const server = await startBuilt(t, { JWKS_TIMEOUT_MS: String(JWKS_TIMEOUT_MS), REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATABASE_STATEMENT_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS - 1000) })
    const token = writerToken(services)
    assert.equal((await send(`${server.url}/api/v1/me`, { headers: bearer(token) })).status, 200, 'key fetched while the issuer is up')
    services.issuer.mode = mode
    t.after(() => { services.issuer.mode = 'normal' })

    assert.ok(await readinessFails(server.url, 'jwks'), 'readiness reports jwks fail')
    for (const [label, o] of [
      ['liveness', await send(`${server.url}/health`)],
      ['public list', await send(`${server.url}/api/v1/images?limit=3`)],
      ['collection', await send(`${server.url}/api/v1/collections/drill-1`)],
      ['me with a cached key', await send(`${server.url}/api/v1/me`, { headers: bearer(writerToken(services)) })]
    ] as const) {
      assert.equal(o.status, 200, `${label}: ${o.status} ${o.body}`)
      assert.ok(o.ms <= UNRELATED_MS, `${label} answered after ${o.ms} ms`)
    }

    const stranger = services.issuer.token({ key: newKey('not-published-yet'), permissions: ['write:gallery'] })
    const o = await send(`${server.url}/api/v1/me`, { headers: bearer(stranger) })
    t.diagnostic(`unknown key while JWKS ${mode}: ${o.status} ${o.code} in ${o.ms} ms`)
    assert.ok(o.status === 401 || o.status === 503, `${o.status} ${o.body}`)
    assert.ok(o.ms <= JWKS_TIMEOUT_MS + 2000, `unknown key answered after ${o.ms} ms`)
    assert.ok(server.alive())
  })
}

for (const mode of ['down', 'hang'] as const) {
  test(`S3 endpoint ${mode}: readiness reports it, other routes work, completion answers 503 in time`, { timeout: 90_000 }, async (t) => {
    const { services } = await drillSetup(t)
    // An endpoint that refuses connections, or one that accepts and never answers
    const port = await freePort()
    const sockets = new Set<Socket>()
    const blackhole = createServer(s => { sockets.add(s) })
    if (mode === 'hang') {
      await new Promise<void>(resolve => blackhole.listen(port, '127.0.0.1', () => resolve()))
      t.after(() => { for (const s of sockets) s.destroy(); blackhole.close() })
    }
    const server = await startBuilt(t, { S3_ENDPOINT: `http://127.0.0.1:${port}`, REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATABASE_STATEMENT_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS - 1000) })
    assert.ok(await readinessFails(server.url, 's3'), 'readiness reports s3 fail')
    const token = writerToken(services)
    for (const [label, o] of [
      ['liveness', await send(`${server.url}/health`)],
      ['public list', await send(`${server.url}/api/v1/images?limit=3`)],
      ['me', await send(`${server.url}/api/v1/me`, { headers: bearer(token) })]
    ] as const) {
      assert.equal(o.status, 200, `${label}: ${o.status} ${o.body}`)
      assert.ok(o.ms <= UNRELATED_MS, `${label} answered after ${o.ms} ms`)
    }

    const h = { ...bearer(token), 'content-type': 'application/json' }
    const presign = await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: h, body: JSON.stringify({ contentType: 'image/png', size: 12345 }) })
    assert.equal(presign.status, 201, `presign needs no S3 round trip: ${presign.status} ${presign.body}`)
    const { id } = JSON.parse(presign.body ?? '{}') as { id: string }
    const complete = await send(`${server.url}/api/v1/uploads/${id}/complete`, { method: 'POST', headers: bearer(token) })
    t.diagnostic(`complete with S3 ${mode}: ${complete.status} ${complete.code} in ${complete.ms} ms`)
    assert.equal(complete.status, 503, `${complete.status} ${complete.body}`)
    assert.ok(complete.ms <= REQUEST_TIMEOUT_MS + 2000, `completion answered after ${complete.ms} ms`)
    assert.ok(server.alive())
  })
}
