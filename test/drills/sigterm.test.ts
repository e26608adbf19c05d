// Drill: SIGTERM (twice, as Heroku may send it) while the built server is under load and
// holds requests that are waiting on Postgres. In-flight requests complete, the process exits
// 0 within 25 s, and no app connection is left in pg_stat_activity.
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { drillSetup, startBuilt, send, hammer, appBackends, sleep, summary, bearer, writerToken, type Outcome } from '../helpers/drill.ts'
import { until } from '../helpers/spawn-server.ts'

test('SIGTERM under load: in-flight requests finish, exit 0, no connections left', { timeout: 90_000 }, async (t) => {
  const { services, admin, database } = await drillSetup(t)
  const server = await startBuilt(t)
  const token = writerToken(services)
  // Warm: pool connected, types fetched, the key cached
  for (const o of [await send(`${server.url}/api/v1/images?limit=1`), await send(`${server.url}/api/v1/me`, { headers: bearer(token) })]) {
    assert.equal(o.status, 200, `${o.label}: ${o.status} ${o.body}`)
  }

  // Slow in-flight requests: the images table is locked, so list queries wait in Postgres
  const lock = await admin.reserve()
  let locked = true
  t.after(async () => { if (locked) await lock`rollback`.catch(() => {}); lock.release() })
  await lock`begin`
  await lock`lock table images in access exclusive mode`
  const inFlight = Array.from({ length: 10 }, (_, i) => send(`${server.url}/api/v1/images?limit=${i + 1}`, { label: 'in-flight list' }))
  const waiting = await until(async () => (await appBackends(admin, database)).filter(b => b.wait_event_type === 'Lock').length >= 1, 10_000)
  assert.ok(waiting, `list queries should be waiting on the lock before SIGTERM: ${JSON.stringify(await Promise.race([Promise.all(inFlight), sleep(100)]))} ${JSON.stringify(await appBackends(admin, database))}`)

  // Background load on routes that do not touch the locked table
  let sigtermAt = Number.POSITIVE_INFINITY
  const background = hammer({
    count: 20_000,
    concurrency: 8,
    maxMs: 30_000,
    stop: () => !server.alive(),
    make: i => i % 2 === 0
      ? { url: `${server.url}/health`, init: { label: 'bg /health' } }
      : { url: `${server.url}/api/v1/me`, init: { label: 'bg /me', headers: bearer(token) } }
  })
  await sleep(500)

  sigtermAt = Date.now()
  server.child.kill('SIGTERM')
  await sleep(200)
  server.child.kill('SIGTERM')
  await sleep(1000)
  await lock`commit`
  locked = false

  const exit = await Promise.race([server.exited, sleep(25_000).then(() => undefined)])
  const exitMs = Date.now() - sigtermAt
  assert.ok(exit, `server did not exit within 25 s of SIGTERM:\n${server.logs().slice(-3000)}`)
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status:\n${server.logs().slice(-3000)}`)
  t.diagnostic(`exited ${exitMs} ms after the first SIGTERM`)

  const held = await Promise.all(inFlight)
  assert.deepEqual(held.map(o => o.status), held.map(() => 200), `in-flight requests: ${JSON.stringify(held.map(o => o.error ?? o.status))}`)

  const bg = await background
  t.diagnostic(`background: ${JSON.stringify(summary(bg))}`)
  assert.ok(bg.length > 0)
  // Answers are 200 or 503 (closing); never 500
  const bad = bg.filter(o => o.status !== 0 && o.status !== 200 && o.status !== 503)
  assert.deepEqual(bad, [], 'background answers other than 200/503')
  // Requests that started well before SIGTERM were in flight: none may fail at the network level
  const lost = bg.filter((o: Outcome) => o.status === 0 && o.startedAt < sigtermAt - 50)
  assert.deepEqual(lost, [], 'requests sent before SIGTERM failed without an answer')

  const left = await until(async () => (await appBackends(admin, database)).length === 0, 5000)
  assert.ok(left, `app connections left in pg_stat_activity: ${JSON.stringify(await appBackends(admin, database))}`)
})
