// Drill: the identity provider's JWKS and the S3 endpoint lost by a running app, and back.
// Each outage starts after boot, with the dependency seen working (keys fetched, an upload
// completed), and takes the three forms a real one takes: the host refuses connections (down),
// the connection is reset (JWKS) or nothing answers at all (hang). Readiness reports the failing
// dependency, unrelated routes keep working, nothing hangs: a token whose key is cached still
// works, an unknown key answers 401/503 within JWKS_TIMEOUT_MS, completing an upload answers
// 503 within the request budget. When the dependency is back, so is the service, without a
// restart: readiness passes again, a new key is fetched, the refused upload completes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { drillSetup, startBuilt, send, bearer, writerToken, readinessIs } from '../helpers/drill.ts'
import { tcpConnect } from '../helpers/spawn-server.ts'
import { uploadOverHttp, makePng } from '../helpers/uploads.ts'
import { startRelay, type RelayMode } from '../helpers/relay.ts'
import { newKey } from '../../dev/issuer.ts'

const JWKS_TIMEOUT_MS = 1500
const REQUEST_TIMEOUT_MS = 4000
// Readiness gives each check 2 s (lib/readiness.ts); the rest is the client's share
const READINESS_MS = 2000 + 1000
// An unrelated route waits on nothing that is down: anything near a timeout is a hang
const UNRELATED_MS = 1000
// Readiness caches its result for 3 s (lib/readiness.ts). Worst case: a round of checks starts
// just before the dependency is back, waits out its 2 s deadline (a hang), and its failure is
// cached for 3 s: ~5.3 s with the 250 ms polling, plus slack for a loaded CI machine
const RECOVERY_MS = 2000 + 3000 + 2000

// Every readiness answer, failing or not, comes within READINESS_MS
const IN_TIME = { answerMs: READINESS_MS }
const RECOVERED_IN_TIME = { answerMs: READINESS_MS, withinMs: RECOVERY_MS }

async function unrelatedRoutesWork (url: string, routes: [string, string, Record<string, string>?][]): Promise<void> {
  for (const [label, path, headers] of routes) {
    const o = await send(`${url}${path}`, { headers })
    assert.equal(o.status, 200, `${label}: ${o.status} ${o.body}`)
    assert.ok(o.ms <= UNRELATED_MS, `${label} answered after ${o.ms} ms`)
  }
}

for (const mode of ['down', 'reset', 'hang'] as const) {
  test(`JWKS ${mode}: readiness reports it, cached keys and public routes keep working, and it recovers`, { timeout: 90_000 }, async (t) => {
    const { services } = await drillSetup(t)
    const issuer = services.issuer
    const server = await startBuilt(t, { JWKS_TIMEOUT_MS: String(JWKS_TIMEOUT_MS), REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATABASE_STATEMENT_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS - 1000) })
    assert.equal((await send(`${server.url}/api/v1/me`, { headers: bearer(writerToken(services)) })).status, 200, 'key fetched while the issuer is up')
    assert.ok(await readinessIs(server.url, 'jwks', 'ok', IN_TIME), 'readiness passes while the issuer is up')

    if (mode === 'down') await issuer.down()
    else issuer.mode = mode
    let back = false
    // Marked back only once it is: a failed re-listen is retried after the test, so the
    // issuer, shared by the file's tests, is not left down for the next
    const comeBack = async () => {
      if (back) return
      if (mode === 'down') await issuer.up()
      else issuer.mode = 'normal'
      back = true
    }
    t.after(comeBack)
    if (mode === 'down') {
      assert.equal(await tcpConnect(issuer.port, { timeoutMs: 1000 }), 'ECONNREFUSED', 'the issuer refuses connections')
    } else {
      const probe = await send(issuer.url, { timeoutMs: 1000 })
      assert.equal(probe.error, { reset: 'UND_ERR_SOCKET', hang: 'TimeoutError' }[mode], `the issuer is ${mode}: ${probe.status} ${probe.error}`)
    }

    assert.ok(await readinessIs(server.url, 'jwks', 'fail', IN_TIME), 'readiness reports jwks fail')
    await unrelatedRoutesWork(server.url, [
      ['liveness', '/health'],
      ['public list', '/api/v1/images?limit=3'],
      ['collection', '/api/v1/collections/drill-1'],
      ['me with a cached key', '/api/v1/me', bearer(writerToken(services))]
    ])

    // A key the issuer is about to publish: during the outage it cannot be fetched, and the
    // app (fresh, its refetch budget whole) must say the identity provider is unavailable,
    // not that the token is bad
    const rotated = newKey(`rotated-during-${mode}`)
    const stranger = issuer.token({ key: rotated, permissions: ['write:gallery'] })
    const o = await send(`${server.url}/api/v1/me`, { headers: bearer(stranger) })
    t.diagnostic(`unknown key while JWKS ${mode}: ${o.status} ${o.code} in ${o.ms} ms`)
    assert.equal(o.status, 503, `${o.status} ${o.body}`)
    assert.equal(o.code, 'GALLERY_IDP_UNAVAILABLE')
    assert.ok(o.ms <= JWKS_TIMEOUT_MS + 2000, `unknown key answered after ${o.ms} ms`)
    assert.ok(server.alive())

    // The issuer is back with the new key published: readiness passes, the key is fetched
    issuer.keys.push(rotated)
    t.after(() => { issuer.keys.splice(issuer.keys.indexOf(rotated), 1) })
    await comeBack()
    const backAt = Date.now()
    assert.ok(await readinessIs(server.url, 'jwks', 'ok', RECOVERED_IN_TIME), 'readiness passes again')
    const me = await send(`${server.url}/api/v1/me`, { headers: bearer(stranger) })
    t.diagnostic(`after JWKS ${mode}: readiness ok and the new key ${me.status} ${Date.now() - backAt} ms after the issuer came back`)
    assert.equal(me.status, 200, `the key published during the outage: ${me.status} ${me.body}`)
  })
}

for (const mode of ['down', 'hang'] as const satisfies RelayMode[]) {
  test(`S3 endpoint ${mode}: readiness reports it, other routes work, completion answers 503 in time, and it recovers`, { timeout: 90_000 }, async (t) => {
    const { services } = await drillSetup(t)
    // The app reaches s3rver through a relay the drill can cut (test/helpers/relay.ts)
    const relay = await startRelay(services.env.S3_ENDPOINT!)
    t.after(() => relay.close())
    const server = await startBuilt(t, { S3_ENDPOINT: relay.url, REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATABASE_STATEMENT_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS - 1000) })
    const token = writerToken(services)
    const completeUpload = async (id: string) => await send(`${server.url}/api/v1/uploads/${id}/complete`, { method: 'POST', headers: bearer(token) })

    // Up: readiness passes (its HeadBucket went through the relay: the drill has not used it
    // yet) and an upload completes through it
    assert.ok(await readinessIs(server.url, 's3', 'ok', IN_TIME), 'readiness passes while S3 is up')
    assert.ok(relay.accepted() > 0, 'the app reaches S3 through the relay')
    const before = await uploadOverHttp(server.url, token, makePng(8, 8), 'image/png')
    const first = await completeUpload(before.id)
    assert.equal(first.status, 200, `completion while S3 is up: ${first.status} ${first.body}`)
    // A file that reached the bucket just before the outage
    const caught = await uploadOverHttp(server.url, token, makePng(8, 8), 'image/png')

    // The app holds kept-alive connections to S3 by now: 'hang' stalls those too (with only new
    // connections stalled, readiness stayed green on the old ones and this drill failed)
    await relay.set(mode)
    assert.equal(await tcpConnect(relay.port, { timeoutMs: 1000 }), mode === 'down' ? 'ECONNREFUSED' : 'connected', `the endpoint is ${mode}`)
    if (mode === 'hang') {
      const probe = await send(relay.url, { timeoutMs: 1000 })
      assert.equal(probe.error, 'TimeoutError', `the endpoint hangs: ${probe.status} ${probe.error}`)
    }
    assert.ok(await readinessIs(server.url, 's3', 'fail', IN_TIME), 'readiness reports s3 fail')
    await unrelatedRoutesWork(server.url, [
      ['liveness', '/health'],
      ['public list', '/api/v1/images?limit=3'],
      ['me', '/api/v1/me', bearer(token)]
    ])

    const presign = await send(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ contentType: 'image/png', size: 12345 }) })
    assert.equal(presign.status, 201, `presign needs no S3 round trip: ${presign.status} ${presign.body}`)
    const complete = await completeUpload(caught.id)
    t.diagnostic(`complete with S3 ${mode}: ${complete.status} ${complete.code} in ${complete.ms} ms`)
    assert.equal(complete.status, 503, `${complete.status} ${complete.body}`)
    assert.ok(complete.ms <= REQUEST_TIMEOUT_MS + 2000, `completion answered after ${complete.ms} ms`)
    assert.ok(server.alive())

    // Back: readiness passes again and the refused completion, retried, succeeds
    await relay.set('up')
    const backAt = Date.now()
    assert.ok(await readinessIs(server.url, 's3', 'ok', RECOVERED_IN_TIME), 'readiness passes again')
    const retried = await completeUpload(caught.id)
    t.diagnostic(`after S3 ${mode}: readiness ok and the retried completion ${retried.status} ${Date.now() - backAt} ms after S3 came back`)
    assert.equal(retried.status, 200, `the completion refused during the outage, retried: ${retried.status} ${retried.body}`)
    const image = await send(`${server.url}/api/v1/images/${(JSON.parse(retried.body ?? '{}') as { id?: string }).id ?? 'none'}`, { headers: bearer(token) })
    assert.equal(image.status, 200, `the image exists: ${image.status} ${image.body}`)
  })
}
