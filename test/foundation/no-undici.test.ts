// The built server never loads undici (Node's fetch, with its WebAssembly HTTP parser): not at
// boot, not for the JWKS (lib/http-get.ts), not through a bundled ES import of node:http
// (scripts/build.mjs). Loading it cost each process ~3 MB of RSS, idle and after load (docs/benchmarks.md).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ensureBuilt, spawnServer, procfileNodeArgs, until } from '../helpers/spawn-server.ts'
import { testEnv, getServices } from '../helpers/services.ts'

// Reports, as the process exits, whether Node ever loaded its undici module
const PROBE = `--import=data:text/javascript,${encodeURIComponent("import { writeSync } from 'node:fs'; process.once('exit', () => writeSync(2, 'undici-loaded=' + process.moduleLoadList.some(m => m.includes('undici')) + '\\n'))")}`

test('the probe tells: a process that calls fetch() loads undici, one that does not, does not', () => {
  const run = (code: string) => spawnSync(process.execPath, [PROBE, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 }).stderr
  assert.match(run('await fetch("http://127.0.0.1:9/").catch(() => {})'), /undici-loaded=true/)
  assert.match(run('await import("node:http")'), /undici-loaded=true/, 'an ES import of node:http loads it')
  assert.match(run('process.getBuiltinModule("node:http")'), /undici-loaded=false/)
})

test('the built server answers readiness (JWKS, S3, Postgres), lists, /me and presigns without loading undici', { timeout: 60_000 }, async (t) => {
  ensureBuilt()
  const services = await getServices()
  const server = await spawnServer({ env: await testEnv({ LOG_LEVEL: 'warn' }), nodeArgs: [...procfileNodeArgs(), PROBE] })
  t.after(() => server.stop(10_000))
  const token = services.issuer.token({ sub: 'auth0|undici-probe', permissions: ['write:gallery'] })
  const auth = { authorization: `Bearer ${token}` }
  const ready = await fetch(`${server.url}/api/v1/health`)
  const body = await ready.json() as { checks: Record<string, { status: string }> }
  assert.deepEqual(Object.fromEntries(Object.entries(body.checks).map(([k, v]) => [k, v.status])), { postgres: 'ok', s3: 'ok', jwks: 'ok' })
  assert.equal((await fetch(`${server.url}/api/v1/images?limit=3`)).status, 200)
  assert.equal((await fetch(`${server.url}/api/v1/images?limit=3`, { headers: auth })).status, 200)
  assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: auth })).status, 200)
  const presign = await fetch(`${server.url}/api/v1/uploads`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ contentType: 'image/jpeg', size: 1000 }) })
  assert.equal(presign.status, 201, await presign.text())
  assert.equal((await server.stop(10_000)).code, 0)
  assert.ok(await until(() => /undici-loaded=/.test(server.logs()), 5000), server.logs())
  assert.match(server.logs(), /undici-loaded=false/)
})
