// lib/jwks.ts against a real JWKS server: rotation survives a junk-kid flood, removed keys go.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startIssuer } from '../../dev/issuer.ts'
import { createKeyStore, jwkToPem } from '../../lib/jwks.ts'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const pemOf = (issuer: Awaited<ReturnType<typeof startIssuer>>, i: number) =>
  jwkToPem({ ...issuer.keys[i]!.publicKey.export({ format: 'jwk' }), kid: issuer.keys[i]!.kid })

test('a flood of junk kids cannot lock out a freshly rotated key', async (t) => {
  const issuer = await startIssuer()
  t.after(() => issuer.close())
  const store = createKeyStore({ issuer: issuer.issuer, timeoutMs: 1000, refetchesPerMinute: 5, fullRefreshCooldownMs: 300 })
  assert.equal(await store.prefetch(), 1)
  for (let i = 0; i < 20; i++) {
    await assert.rejects(store.getPem(`junk-${i}`, 'RS256'), { statusCode: 401 })
  }
  const requestsAfterFlood = issuer.jwksRequests()
  assert.ok(requestsAfterFlood <= 1 + 5 + 1, `flood bounded: ${requestsAfterFlood} JWKS requests`)
  issuer.rotate()
  await sleep(350)
  // Per-kid budget spent by the junk; the whole-set refresh still learns the new key
  assert.equal(await store.getPem(issuer.keys[0]!.kid, 'RS256'), pemOf(issuer, 0))
  // And the old key is still published, so still known
  assert.equal(await store.getPem(issuer.keys[1]!.kid, 'RS256'), pemOf(issuer, 1))
})

test('a key the issuer stops publishing stops being trusted after the set expires', async (t) => {
  const issuer = await startIssuer()
  t.after(() => issuer.close())
  const store = createKeyStore({ issuer: issuer.issuer, timeoutMs: 1000, ttlMs: 200, fullRefreshCooldownMs: 100 })
  await store.prefetch()
  const old = issuer.keys[0]!
  assert.ok(await store.getPem(old.kid, 'RS256'))
  issuer.rotate()
  issuer.keys.pop() // the old key is withdrawn from the JWKS
  await sleep(250)
  // The stale set still answers once while the refresh runs behind
  await store.getPem(issuer.keys[0]!.kid, 'RS256').catch(() => {})
  await sleep(200)
  await assert.rejects(store.getPem(old.kid, 'RS256'), { statusCode: 401 })
  assert.equal(await store.getPem(issuer.keys[0]!.kid, 'RS256'), pemOf(issuer, 0))
})

test('a fresh store under concurrent first requests: every one gets the key, with one JWKS fetch', async (t) => {
  const issuer = await startIssuer()
  t.after(() => issuer.close())
  const kid = issuer.keys[0]!.kid
  // Before the fix, requests past the refetch budget (here 3) got a 401 for a valid key
  const cold = createKeyStore({ issuer: issuer.issuer, timeoutMs: 1000, refetchesPerMinute: 3 })
  const before = issuer.jwksRequests()
  const pems = await Promise.all(Array.from({ length: 20 }, async () => await cold.getPem(kid, 'RS256')))
  assert.deepEqual(new Set(pems), new Set([pemOf(issuer, 0)]))
  assert.equal(issuer.jwksRequests() - before, 1, 'one lookup shared by all')

  // The same while the boot's prefetch is still under way: they wait for it
  const booting = createKeyStore({ issuer: issuer.issuer, timeoutMs: 1000, refetchesPerMinute: 3 })
  const start = issuer.jwksRequests()
  const prefetch = booting.prefetch()
  const during = await Promise.all(Array.from({ length: 20 }, async () => await booting.getPem(kid, 'RS256')))
  assert.equal(await prefetch, 1)
  assert.deepEqual(new Set(during), new Set([pemOf(issuer, 0)]))
  assert.equal(issuer.jwksRequests() - start, 1, 'the prefetch alone')
})
