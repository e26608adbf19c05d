// Drill: SIGTERM (twice, as Heroku may send it) while the built server is under load and
// holds requests in flight two ways: list queries waiting on Postgres, and uploads whose body
// is still arriving (a phone on a slow link). In-flight requests complete, the process exits
// 0 within 25 s of the first SIGTERM, and no app connection is left in pg_stat_activity.
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { drillSetup, startBuilt, send, hammer, appBackends, sleep, summary, bearer, writerToken, type Outcome } from '../helpers/drill.ts'
import { until } from '../helpers/spawn-server.ts'

/**
 * A POST whose body arrives in two parts: the headers and the first half now, the rest when
 * `rest` resolves. Until then the server holds the request open, reading its body.
 */
async function slowPost (url: string, body: string, headers: Record<string, string>, rest: Promise<unknown>): Promise<{ status: number, body?: string, error?: string }> {
  return await new Promise(resolve => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text.slice(0, 2000) }) })
      res.on('error', (err: NodeJS.ErrnoException) => { resolve({ status: 0, error: err.code ?? err.message }) })
    })
    req.on('error', (err: NodeJS.ErrnoException) => { resolve({ status: 0, error: err.code ?? err.message }) })
    const half = Math.floor(body.length / 2)
    req.write(body.slice(0, half))
    rest.then(() => { req.end(body.slice(half)) }, () => { req.destroy() })
  })
}

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

  // Uploads in flight at SIGTERM: the server has their headers and half their body; the rest
  // comes after both signals. Each then waits on the lock too (it inserts a pending image).
  let sendRest = () => {}
  const rest = new Promise<void>(resolve => { sendRest = resolve })
  const uploads = Array.from({ length: 4 }, (_, i) => slowPost(`${server.url}/api/v1/uploads`, JSON.stringify({ contentType: 'image/jpeg', size: 1000 + i, filename: `in-flight-${i}.jpg` }), bearer(writerToken(services)), rest))

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
  await sleep(300)
  sendRest()
  await sleep(700)
  await lock`commit`
  locked = false

  // 25 s from the first SIGTERM, not from here
  const exit = await Promise.race([server.exited, sleep(sigtermAt + 25_000 - Date.now()).then(() => undefined)])
  const exitMs = Date.now() - sigtermAt
  assert.ok(exit, `server did not exit within 25 s of SIGTERM:\n${server.logs().slice(-3000)}`)
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status:\n${server.logs().slice(-3000)}`)
  assert.ok(exitMs <= 25_000, `exited ${exitMs} ms after the first SIGTERM`)
  t.diagnostic(`exited ${exitMs} ms after the first SIGTERM`)

  const held = await Promise.all(inFlight)
  assert.deepEqual(held.map(o => o.status), held.map(() => 200), `in-flight requests: ${JSON.stringify(held.map(o => o.error ?? o.status))}`)
  const posted = await Promise.all(uploads)
  assert.deepEqual(posted.map(o => o.status), posted.map(() => 201), `uploads in flight: ${JSON.stringify(posted)}`)
  for (const o of posted) assert.ok((JSON.parse(o.body!) as { id?: string }).id, `an upload's answer names its image: ${o.body}`)

  const bg = await background
  t.diagnostic(`background: ${JSON.stringify(summary(bg))}`)
  assert.ok(bg.length > 0)
  // Answers are 200 or 503 (closing); never 500
  const bad = bg.filter(o => o.status !== 0 && o.status !== 200 && o.status !== 503)
  assert.deepEqual(bad, [], 'background answers other than 200/503')
  // Under load before SIGTERM, no connection failed. A request sent in the last few ms before
  // it may meet its keep-alive connection being closed as idle (the server had not read it, so
  // it was not in flight): the held lists and uploads above are the in-flight requests.
  const lost = bg.filter((o: Outcome) => o.status === 0 && o.startedAt < sigtermAt - 50)
  assert.deepEqual(lost, [], 'requests sent before SIGTERM failed without an answer')

  const left = await until(async () => (await appBackends(admin, database)).length === 0, 5000)
  assert.ok(left, `app connections left in pg_stat_activity: ${JSON.stringify(await appBackends(admin, database))}`)
})
