// The JWT attack list of CONTRACT.md, against a real HTTP JWKS server that counts requests.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build, bearer } from '../helpers/build.ts'
import { startIssuer, signHs256, signRs256, unsigned, newKey } from '../../dev/issuer.ts'
import type { App } from '../../app.ts'

const me = (app: App, token: string) => app.inject({ url: '/api/v1/me', headers: bearer(token) })

/** Build an app, wait for the JWKS prefetch, and return a function giving JWKS requests since. */
async function setup (t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const built = await build(t, env)
  const { issuer } = built.services
  // The prefetch runs in the background at ready; wait for its key to be cached
  for (let i = 0; i < 100 && built.app.keyStore.size() === 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.ok(built.app.keyStore.size() > 0, 'JWKS prefetched before the first request')
  const base = issuer.jwksRequests()
  return { ...built, issuer, jwksSince: () => issuer.jwksRequests() - base }
}

function payload (issuer: { issuer: string, audience: string }, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000)
  return { iss: issuer.issuer, aud: issuer.audience, sub: 'auth0|attacker', exp: now + 600, iat: now, permissions: ['write:gallery'], ...extra }
}

test('a valid RS256 access token is accepted without any JWKS request (key prefetched)', async (t) => {
  const { app, issuer, jwksSince } = await setup(t)
  const res = await me(app, issuer.token({ permissions: ['write:gallery'], sub: 'auth0|owner' }))
  assert.equal(res.statusCode, 200, res.body)
  assert.deepEqual(res.json(), { sub: 'auth0|owner', permissions: ['write:gallery'], canWrite: true })
  assert.equal(res.headers['cache-control'], 'private, no-store')
  assert.equal(jwksSince(), 0)
})

test('alg none, HS256 signed with the public key, and other algorithms: 401 with no JWKS request', async (t) => {
  const { app, issuer, jwksSince } = await setup(t)
  const key = issuer.keys[0]!
  const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const tokens = {
    none: unsigned({ alg: 'none', typ: 'JWT', kid: key.kid }, payload(issuer)),
    noneUpper: unsigned({ alg: 'NONE', typ: 'JWT', kid: key.kid }, payload(issuer)),
    hs256WithPublicKey: signHs256({ alg: 'HS256', typ: 'JWT', kid: key.kid }, payload(issuer), publicPem),
    hs256NewKid: signHs256({ alg: 'HS256', typ: 'JWT', kid: 'fresh-kid' }, payload(issuer), publicPem),
    // Same RSA signature bytes labelled as another algorithm
    rs512Label: signRs256({ alg: 'RS512', typ: 'JWT', kid: key.kid }, payload(issuer), key.privateKey),
    es256Label: signRs256({ alg: 'ES256', typ: 'JWT', kid: 'other-kid' }, payload(issuer), key.privateKey)
  }
  for (const [name, token] of Object.entries(tokens)) {
    const res = await me(app, token)
    assert.equal(res.statusCode, 401, `${name}: ${res.body}`)
    assert.equal(res.json().statusCode, 401)
  }
  assert.equal(jwksSince(), 0, 'no JWKS request for any of them')
})

test('a token whose iss points at an attacker JWKS: 401 and zero requests to the attacker', async (t) => {
  const attacker = await startIssuer()
  t.after(() => attacker.close())
  const { app, issuer, jwksSince } = await setup(t)
  // Signed by the attacker's key, published at the attacker's JWKS, audience correct
  const forged = attacker.token({ aud: issuer.audience, permissions: ['write:gallery'] })
  const res = await me(app, forged)
  assert.equal(res.statusCode, 401)
  assert.equal(attacker.requests.length, 0, 'the attacker host saw no request')
  // Near-miss issuers are also refused before any lookup
  for (const iss of [issuer.issuer.replace(/\/$/, ''), `${issuer.issuer}evil/`, issuer.issuer.replace('127.0.0.1', 'localhost')]) {
    const r = await me(app, issuer.token({ iss }))
    assert.equal(r.statusCode, 401, iss)
  }
  assert.equal(jwksSince(), 0)
})

test('audience: an ID token (aud = client id) is refused; an array containing the audience is accepted', async (t) => {
  const { app, issuer } = await setup(t)
  assert.equal((await me(app, issuer.token({ aud: 'dev-client-id' }))).statusCode, 401)
  assert.equal((await me(app, issuer.token({ aud: ['https://other.example/', 'dev-client-id'] }))).statusCode, 401)
  assert.equal((await me(app, issuer.token({ aud: ['https://other.example/', issuer.audience] }))).statusCode, 200)
  assert.equal((await me(app, issuer.token({ aud: issuer.audience }))).statusCode, 200)
})

test('time claims: exp required, expired refused, future nbf refused, small clock tolerance', async (t) => {
  const { app, issuer } = await setup(t)
  assert.equal((await me(app, issuer.token({ omitExp: true }))).statusCode, 401)
  const expired = await me(app, issuer.token({ expiresInSeconds: -60 }))
  assert.equal(expired.statusCode, 401)
  assert.equal(expired.json().code, 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED')
  assert.equal((await me(app, issuer.token({ notBeforeSeconds: 120 }))).statusCode, 401)
  // Within the 5 s tolerance: accepted
  assert.equal((await me(app, issuer.token({ expiresInSeconds: -2 }))).statusCode, 200)
})

test('hostile kid values and jku/x5u headers: 401, never followed, never 500', async (t) => {
  let followed = 0
  const trap = createServer((_req, res) => { followed++; res.end('{"keys":[]}') })
  await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', () => resolve()))
  t.after(() => new Promise<void>(resolve => trap.close(() => resolve())))
  const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks.json`

  const { app, issuer, jwksSince } = await setup(t)
  const hostile = ['../../../../etc/passwd', "kid' OR '1'='1", '"quoted"', 'k'.repeat(10 * 1024), 'http://127.0.0.1/evil', '', ' ', 'kid\u0000null']
  for (const kid of hostile) {
    const res = await me(app, issuer.token({ header: { kid } }))
    assert.equal(res.statusCode, 401, `kid ${JSON.stringify(kid.slice(0, 40))}: ${res.body}`)
  }
  for (const header of [{ jku: trapUrl }, { x5u: trapUrl }, { jwk: { kty: 'RSA', n: 'x', e: 'AQAB' } }, { x5c: ['MIIB'] }]) {
    const res = await me(app, issuer.token({ header }))
    assert.equal(res.statusCode, 401, JSON.stringify(header))
  }
  assert.equal(followed, 0, 'jku/x5u never fetched')
  assert.equal(jwksSince(), 0, 'hostile kids never reach the JWKS endpoint')
  // A kid that is not a string at all
  const numeric = signRs256({ alg: 'RS256', kid: 12345 }, payload(issuer), issuer.keys[0]!.privateKey)
  assert.equal((await me(app, numeric)).statusCode, 401)
})

test('a flood of unknown kids makes a bounded number of JWKS requests', async (t) => {
  const { app, issuer, jwksSince } = await setup(t)
  const results = []
  for (let i = 0; i < 60; i++) results.push((await me(app, issuer.token({ header: { kid: `random-${i}-${Math.random().toString(36).slice(2)}` } }))).statusCode)
  assert.ok(results.every(s => s === 401), `all refused: ${[...new Set(results)].join(',')}`)
  assert.ok(jwksSince() <= 10, `60 unknown kids caused ${jwksSince()} JWKS requests`)
})

test('a token signed by another key under a known kid is refused', async (t) => {
  const { app, issuer } = await setup(t)
  const impostor = newKey(issuer.keys[0]!.kid)
  assert.equal((await me(app, issuer.token({ key: impostor }))).statusCode, 401)
})

test('key rotation: a token with a new kid is verified after one JWKS refetch', async (t) => {
  const { app, issuer, jwksSince } = await setup(t)
  const fresh = issuer.rotate()
  const res = await me(app, issuer.token({ key: fresh }))
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(jwksSince(), 1)
  assert.equal((await me(app, issuer.token({ key: fresh }))).statusCode, 200)
  assert.equal(jwksSince(), 1, 'the new key is cached')
})

test('a JWKS server that accepts and never answers cannot hang a request; cached keys keep working', async (t) => {
  const { app, issuer } = await setup(t, { JWKS_TIMEOUT_MS: '500' })
  issuer.mode = 'hang'
  t.after(() => { issuer.mode = 'normal' })
  const unknown = await me(app, issuer.token({ key: newKey('not-yet-published') }))
  assert.equal(unknown.statusCode, 503)
  assert.equal(unknown.json().code, 'GALLERY_IDP_UNAVAILABLE')
  assert.ok(unknown.headers['retry-after'])
  // Tokens signed by the cached key do not need the identity provider at all
  assert.equal((await me(app, issuer.token())).statusCode, 200)
})

test('an identity-provider outage (JWKS answering 500) maps to 503, never 500', async (t) => {
  const { app, issuer } = await setup(t)
  issuer.mode = 'error'
  t.after(() => { issuer.mode = 'normal' })
  const res = await me(app, issuer.token({ key: newKey('rotated-during-outage') }))
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().code, 'GALLERY_IDP_UNAVAILABLE')
})

test('permissions come from the permissions claim and scope; no token is 401', async (t) => {
  const { app, issuer } = await setup(t)
  const viaScope = await me(app, issuer.token({ scope: 'openid write:gallery' }))
  assert.deepEqual(viaScope.json().permissions, ['openid', 'write:gallery'])
  const none = await me(app, issuer.token({}))
  assert.deepEqual(none.json(), { sub: 'auth0|dev-owner', permissions: [], canWrite: false })
  const missing = await app.inject('/api/v1/me')
  assert.equal(missing.statusCode, 401)
  for (const authorization of ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a.b', 'Bearer not-a-jwt-at-all', `Bearer ${'x'.repeat(8000)}`]) {
    const r = await app.inject({ url: '/api/v1/me', headers: { authorization } })
    assert.ok([400, 401].includes(r.statusCode), `${authorization.slice(0, 20)} -> ${r.statusCode}`)
  }
})
