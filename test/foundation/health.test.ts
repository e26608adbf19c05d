import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, chmod, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres } from '../../dev/postgres.ts'
import { createDatabase } from '../../dev/services.ts'
import { build } from '../helpers/build.ts'
import { getServices } from '../helpers/services.ts'

// This file stops Postgres, so it runs its own embedded server instead of the shared one
const dir = await mkdtemp(join(tmpdir(), 'gallery-health-'))
await chmod(dir, 0o755)
// persistent: a non-persistent embedded server deletes its data on stop and cannot restart
const pg = await startPostgres({ dataDir: join(dir, 'pg'), persistent: true })
await createDatabase(pg.url(), 'gallery')
after(async () => {
  await pg.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

test('readiness checks Postgres, S3 and JWKS with latencies; liveness never touches them', async (t) => {
  const { app } = await build(t, { DATABASE_URL: pg.url('gallery') })
  const ready = await app.inject('/api/v1/health')
  assert.equal(ready.statusCode, 200, ready.body)
  const body = ready.json()
  assert.equal(body.status, 'ok')
  for (const name of ['postgres', 's3', 'jwks']) {
    assert.equal(body.checks[name].status, 'ok', name)
    assert.equal(typeof body.checks[name].latencyMs, 'number')
  }
  assert.equal(ready.headers['cache-control'], 'no-store')
})

test('with Postgres stopped: readiness 503 naming postgres, liveness 200, the process stays up; recovery without restart', async (t) => {
  const { app } = await build(t, { DATABASE_URL: pg.url('gallery') })
  assert.equal((await app.inject('/api/v1/health')).statusCode, 200)
  await pg.stop()
  // Readiness results are cached for a few seconds so probes cannot amplify load
  await new Promise(resolve => setTimeout(resolve, 3100))
  const down = await app.inject('/api/v1/health')
  assert.equal(down.statusCode, 503)
  const body = down.json()
  assert.equal(body.status, 'fail')
  assert.equal(body.checks.postgres.status, 'fail')
  assert.equal(body.checks.s3.status, 'ok')
  assert.equal(body.checks.jwks.status, 'ok')
  assert.ok(!JSON.stringify(body).includes('postgres:postgres'), 'no connection string in the body')
  assert.equal((await app.inject('/health')).statusCode, 200)

  await pg.start()
  await new Promise(resolve => setTimeout(resolve, 3100))
  const back = await app.inject('/api/v1/health')
  assert.equal(back.statusCode, 200, back.body)
})

test('readiness is cached: a burst of probes costs the JWKS server one request', async (t) => {
  const { app } = await build(t, { DATABASE_URL: pg.url('gallery') })
  const { issuer } = await getServices()
  await app.inject('/api/v1/health')
  const before = issuer.requests.length
  const results = await Promise.all(Array.from({ length: 50 }, () => app.inject('/api/v1/health')))
  assert.ok(results.every(r => r.statusCode === 200))
  assert.ok(issuer.requests.length - before <= 1, `burst made ${issuer.requests.length - before} JWKS requests`)
})

test('readiness reports an S3 outage and a JWKS outage', async (t) => {
  const { app } = await build(t, { DATABASE_URL: pg.url('gallery'), S3_ENDPOINT: 'http://127.0.0.1:1', AUTH0_ISSUER_URL: 'http://127.0.0.1:1/', AUTH0_DOMAIN: '127.0.0.1:1' })
  const res = await app.inject('/api/v1/health')
  assert.equal(res.statusCode, 503)
  const body = res.json()
  assert.equal(body.checks.s3.status, 'fail')
  assert.equal(body.checks.jwks.status, 'fail')
  assert.equal(body.checks.postgres.status, 'ok')
  assert.equal((await app.inject('/health')).statusCode, 200)
})
