// Drill: an Essential-plan-like connection cap (a role with CONNECTION LIMIT 20), two app
// processes (DATABASE_POOL_MAX default 4, plus one LISTEN connection each) and the release
// command running under load: no "too many connections" reaches a client. Also the preboot
// overlap (four processes while old and new dynos both run).
// @see https://devcenter.heroku.com/articles/preboot
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { drillSetup, appRole, startBuilt, hammer, summary, bearer, writerToken } from '../helpers/drill.ts'
import { MIGRATE_JS, ROOT, type ServerProcess } from '../helpers/spawn-server.ts'
import { testEnv } from '../helpers/services.ts'

const run = promisify(execFile)
const LIMIT = 20

for (const processes of [2, 4]) {
  test(`connection cap ${LIMIT}: ${processes} app processes + release command under load`, { timeout: 120_000 }, async (t) => {
    const drill = await drillSetup(t)
    const { services, admin } = drill
    const role = `capped_${processes}`
    const url = await appRole(t, drill, role, { password: 'capped', connectionLimit: LIMIT, createOnSchema: true })
    const servers: ServerProcess[] = []
    for (let i = 0; i < processes; i++) servers.push(await startBuilt(t, { DATABASE_URL: url }))
    const tokens = Array.from({ length: 200 }, () => writerToken(services))

    let peak = 0
    const sampling = { done: false }
    const sampler = (async () => {
      for (let i = 0; i < 2000 && !sampling.done; i++) {
        const rows = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where usename = ${role}`
        peak = Math.max(peak, rows[0]?.n ?? 0)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    let loadDoneAt = Number.POSITIVE_INFINITY
    const load = hammer({
      count: 4000,
      concurrency: 48,
      maxMs: 60_000,
      make: i => {
        const base = servers[i % servers.length]!.url
        const token = tokens[i % tokens.length]!
        switch (i % 4) {
          case 0: return { url: `${base}/api/v1/images?limit=${1 + (i % 100)}`, init: { headers: bearer(token), label: 'writer list' } }
          case 1: return { url: `${base}/api/v1/images?limit=${1 + (i % 100)}&tag=tag-${i % 10}`, init: { label: 'public list' } }
          case 2: return { url: `${base}/api/v1/collections/drill-${1 + (i % 3)}`, init: { label: 'collection' } }
          default: return { url: `${base}/api/v1/uploads`, init: { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ contentType: 'image/png', size: 12345 }), label: 'presign' } }
        }
      }
    }).finally(() => { loadDoneAt = Date.now() })
    // The release command, three times while the load runs
    const env = { ...(await testEnv()), DATABASE_URL: url.toString() }
    const releases = []
    for (let i = 0; i < 3; i++) releases.push(await run(process.execPath, [MIGRATE_JS], { cwd: ROOT, env, timeout: 60_000 }).then(() => 0, (err: { code?: number, stderr?: string }) => ({ code: err.code, stderr: err.stderr })))
    const releasesDoneAt = Date.now()
    const outcomes = await load
    sampling.done = true
    await sampler

    t.diagnostic(`${processes} processes: ${JSON.stringify(summary(outcomes))}; peak connections of the role ${peak}/${LIMIT}`)
    assert.deepEqual(releases, [0, 0, 0], 'release command exits 0 under load')
    // The drill ran at the pools' size, not below it: with four processes that is the cap
    // itself (4 x (4 + 1 LISTEN) = 20), so "no too many connections" below is not trivially true
    assert.ok(peak >= processes * 4, `peak connections of the role ${peak}: the pools never filled`)
    assert.ok(releasesDoneAt < loadDoneAt, `the load ended ${releasesDoneAt - loadDoneAt} ms before the last release command: they did not overlap`)
    // Only answers that are not a success can carry the error; and SQLSTATE 53300 only as a
    // whole word: a presign's hex signature once contained "53300" and failed this drill.
    // Postgres words it two ways: "too many connections for role" and "too many clients already"
    const tooMany = outcomes.filter(o => (o.status === 0 || o.status >= 400) && /too many (?:connections|clients)|\b53300\b|remaining connection slots/i.test(`${o.error ?? ''} ${o.body ?? ''}`))
    assert.deepEqual(tooMany.slice(0, 3), [], 'a "too many connections" error reached a client')
    const failed = outcomes.filter(o => o.status === 0 || o.status >= 500)
    assert.deepEqual(failed.slice(0, 3).map(o => `${o.label}: ${o.status} ${o.error ?? o.body}`), [], `${failed.length} requests failed under the connection cap`)
    // Every request was valid: nothing but 200s and 201s. A fresh process's first token checks
    // once gave two presigns a 401 "Token signing key is not known" (lib/jwks.ts)
    const other = outcomes.filter(o => o.status !== 200 && o.status !== 201)
    assert.deepEqual(other.slice(0, 3).map(o => `${o.label}: ${o.status} ${o.error ?? o.body}`), [], `${other.length} answers other than 200/201`)
    for (const s of servers) assert.ok(s.alive())
  })
}
