// Drill: a query slower than the request budget (the images table held by an ACCESS
// EXCLUSIVE lock from another session). The request answers 503/504 within the budget and
// the waiting query is gone from pg_stat_activity afterwards: killed by statement_timeout,
// which lib/config.ts requires to be below the request timeout (a cached public fill has no
// request of its own to cancel it).
// @see https://devcenter.heroku.com/articles/request-timeout
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { drillSetup, startBuilt, send, appBackends, bearer, writerToken } from '../helpers/drill.ts'
import { until } from '../helpers/spawn-server.ts'

const cases = [
  { name: 'statement_timeout below the request timeout', statementMs: 1500, requestMs: 4000 },
  { name: 'statement_timeout just below the request timeout', statementMs: 1900, requestMs: 2000 }
]

for (const c of cases) {
  test(`slow query, ${c.name}`, { timeout: 90_000 }, async (t) => {
    const { services, admin, database } = await drillSetup(t)
    const server = await startBuilt(t, { DATABASE_STATEMENT_TIMEOUT_MS: String(c.statementMs), REQUEST_TIMEOUT_MS: String(c.requestMs) })
    const token = writerToken(services)
    assert.equal((await send(`${server.url}/api/v1/collections`)).status, 200, 'warm')

    const lock = await admin.reserve()
    let open = true
    t.after(async () => { if (open) await lock`rollback`.catch(() => {}); lock.release() })
    await lock`begin`
    await lock`lock table images in access exclusive mode`

    // The request budget, and the client's own share of the time (loopback, scheduling)
    const budget = c.requestMs + 500
    const requests = [
      { label: 'public list', url: `${server.url}/api/v1/images?limit=17` },
      { label: 'writer list', url: `${server.url}/api/v1/images?limit=18`, headers: bearer(token) }
    ]
    for (const r of requests) {
      const answer = send(r.url, { headers: r.headers ?? {}, label: r.label })
      // The query reached Postgres and waits on the lock: otherwise "gone" below proves nothing
      const waiting = await until(async () => (await appBackends(admin, database, { activeQueryLike: 'images' })).some(b => b.wait_event_type === 'Lock'), Math.min(c.statementMs, c.requestMs), 20)
      assert.ok(waiting, `${r.label}: no app query waiting on the lock before the answer: ${JSON.stringify(await appBackends(admin, database))}`)
      const o = await answer
      t.diagnostic(`${r.label}: ${o.status} ${o.code} in ${o.ms} ms`)
      assert.ok(o.status === 503 || o.status === 504, `${r.label}: ${o.status} ${o.body}`)
      assert.ok(o.ms <= budget, `${r.label} answered after ${o.ms} ms (budget ${budget})`)
      const gone = await until(async () => (await appBackends(admin, database, { activeQueryLike: 'images' })).length === 0, 1000, 50)
      assert.ok(gone, `${r.label}: query still in pg_stat_activity after the answer: ${JSON.stringify(await appBackends(admin, database, { activeQueryLike: 'images' }))}`)
    }
    await lock`commit`
    open = false
    assert.equal((await send(`${server.url}/api/v1/images?limit=19`)).status, 200, 'serves again once the lock is gone')
    assert.ok(server.alive())
  })
}
