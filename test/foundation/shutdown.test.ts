// Heroku dyno shutdown: SIGTERM (possibly repeated), SIGKILL 30 s later. The BUILT server
// must finish in-flight requests, refuse new ones, close its pool and exit 0 well inside that.
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { testEnv, getServices } from '../helpers/services.ts'
import { spawnNode, waitForHealth, ROOT } from '../helpers/spawn.ts'
import { freePort } from '../../dev/postgres.ts'
import { procfileNodeArgs } from '../helpers/spawn-server.ts'

const SERVER = join(ROOT, 'dist', 'server.js')

async function appConnections (admin: postgres.Sql, database: string): Promise<number> {
  const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${database} and application_name = 'gallery-api'`
  return row!.n
}

test('SIGTERM twice during a slow request: it completes, new requests are refused, pool closed, exit 0 in < 25 s', async () => {
  assert.ok(existsSync(SERVER), 'dist/server.js is missing: npm test builds it first (pretest), or run npm run build')
  const services = await getServices()
  const database = new URL(services.databaseUrl).pathname.slice(1)
  const port = await freePort()
  const env = await testEnv({ PORT: String(port), LOG_LEVEL: 'warn' })
  const server = spawnNode([SERVER], env)
  const admin = postgres(services.databaseUrl, { max: 2, onnotice: () => {} })
  try {
    await waitForHealth(port)
    // Hold the images table so a public list request blocks inside Postgres
    const locker = await admin.reserve()
    await locker`begin`
    await locker`lock table images in access exclusive mode`
    const slow = fetch(`http://127.0.0.1:${port}/api/v1/images`).then(async r => ({ status: r.status, body: await r.text() }))
    // Wait until the request's query is really waiting on the lock
    for (let i = 0; i < 100; i++) {
      const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${database} and application_name = 'gallery-api' and wait_event_type = 'Lock'`
      if (row!.n > 0) break
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const started = Date.now()
    server.child.kill('SIGTERM')
    await new Promise(resolve => setTimeout(resolve, 200))
    server.child.kill('SIGTERM')
    await new Promise(resolve => setTimeout(resolve, 300))

    // A new request is refused (listener closed) or answered 503, never served
    const fresh = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).then(r => r.status, () => 'refused')
    assert.ok(fresh === 'refused' || fresh === 503, `new request during shutdown got ${String(fresh)}`)

    await locker`commit`
    locker.release()
    const result = await slow
    assert.equal(result.status, 200, `in-flight request completed: ${result.body}`)
    assert.ok(Array.isArray(JSON.parse(result.body).items))

    const { code } = await server.exited
    assert.equal(code, 0, server.output())
    assert.ok(Date.now() - started < 25_000)
    assert.equal(await appConnections(admin, database), 0, 'no app connections left in pg_stat_activity')
  } finally {
    server.child.kill('SIGKILL')
    await admin.end()
  }
})

test('a handler that never returns does not block exit past the grace period', async () => {
  const services = await getServices()
  const port = await freePort()
  // The request waits on a lock longer than the grace period; statement/request timeouts are
  // raised so only the shutdown grace can end it
  const env = await testEnv({ PORT: String(port), LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '25000', DATABASE_STATEMENT_TIMEOUT_MS: '24000' })
  const server = spawnNode([SERVER], env)
  const admin = postgres(services.databaseUrl, { max: 1, onnotice: () => {} })
  const locker = await admin.reserve()
  try {
    await waitForHealth(port)
    await locker`begin`
    await locker`lock table images in access exclusive mode`
    const stuck = fetch(`http://127.0.0.1:${port}/api/v1/images`).then(r => r.status, () => 'aborted')
    await new Promise(resolve => setTimeout(resolve, 500))
    const started = Date.now()
    server.child.kill('SIGTERM')
    const { code } = await server.exited
    const elapsed = Date.now() - started
    // close-with-grace exits non-zero when the grace period runs out: Heroku would SIGKILL anyway
    assert.notEqual(code, null, 'exited by itself, not killed')
    assert.ok(elapsed < 25_000, `exited after ${elapsed} ms`)
    const outcome = await stuck
    assert.ok(outcome === 'aborted' || outcome === 503, `stuck request ended with ${String(outcome)}`)
  } finally {
    await locker`rollback`.catch(() => {})
    locker.release()
    server.child.kill('SIGKILL')
    await admin.end()
  }
})

test('the built server binds 0.0.0.0:$PORT with keep-alive >= 90 s and a request timeout', async () => {
  const port = await freePort()
  const env = await testEnv({ PORT: String(port), LOG_LEVEL: 'info' })
  const server = spawnNode([SERVER], env)
  try {
    await waitForHealth(port)
    const lines = server.output().split('\n').filter(Boolean).map(l => JSON.parse(l))
    const bound = lines.find(l => l.msg === 'bound')
    assert.deepEqual(bound?.address, { address: '0.0.0.0', family: 'IPv4', port })
    // Every route schema came precompiled from the build (lib/precompiled-schemas.ts), none compiled at boot
    const schemas = lines.find(l => /route schemas/.test(l.msg))
    assert.equal(schemas?.msg, 'route schemas precompiled at build', JSON.stringify(schemas))
    assert.ok(schemas.precompiled > 0 && schemas.compiled === 0, JSON.stringify(schemas))
    const res = await fetch(`http://127.0.0.1:${port}/health`)
    assert.match(res.headers.get('keep-alive') ?? '', /timeout=9\d/)
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
})

test('the built server, started as the Procfile web line starts it, reads the compile cache the build made', async () => {
  const port = await freePort()
  const env = await testEnv({ PORT: String(port), LOG_LEVEL: 'info', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' })
  const server = spawnNode([...procfileNodeArgs(), SERVER], env)
  try {
    await waitForHealth(port)
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
  const out = server.output()
  const bound = out.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).find(l => l.msg === 'bound')
  assert.equal(bound?.compileCache, 'enabled')
  // V8 keeps a cache per set of flags: made with other flags than the web line's, none is read
  const accepted = out.match(/V8 code cache for \S+ \S+\/dist\/\S+ was accepted/g) ?? []
  assert.ok(accepted.length >= 20, `${accepted.length} modules read from the cache:\n${out.slice(0, 3000)}`)
  assert.doesNotMatch(out, /\/dist\/[^ ]*\.js[^\n]*(rejected|mismatch)/)
})
