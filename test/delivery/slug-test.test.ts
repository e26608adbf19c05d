// Tests of scripts/slug-test.sh itself, on a tiny fixture app (test/delivery/slug-fixture.ts):
// it must pass a well-behaved slug and fail each way a real deploy fails on Heroku. The real
// app's slug test is `npm run slug-test` (slow: a full npm ci), run by .ci/run and CI.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { makeFixture, type FixtureOptions } from './slug-fixture.ts'

const script = fileURLToPath(new URL('../../scripts/slug-test.sh', import.meta.url))

function runSlugTest (opts: FixtureOptions = {}, env: Record<string, string> = {}) {
  const fixture = makeFixture(opts)
  try {
    const result = spawnSync('bash', [script], {
      env: { ...process.env, SLUG_TEST_SOURCE: fixture.dir, SLUG_TEST_NPM_CI_ARGS: '--offline', SLUG_FIXTURE_LEAK_TOKEN: 'from-the-caller', SLUG_TEST_READY_TIMEOUT: '3', ...env },
      encoding: 'utf8',
      timeout: 180_000
    })
    const events = existsSync(fixture.events) ? readFileSync(fixture.events, 'utf8').trim().split('\n') : []
    return { status: result.status, stderr: result.stderr, events }
  } finally {
    fixture.cleanup()
  }
}

test('a well-behaved slug passes, with every Procfile and app.json command run in Heroku order', () => {
  const r = runSlugTest()
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /slug-test: PASS/)
  const names = r.events.map(e => e.split(':')[0])
  assert.deepEqual(names, ['build', 'release', 'release', 'postdeploy', 'web', 'sigterm', 'predestroy'])
  // release got the services' environment; postdeploy and predestroy ran as a review app
  assert.equal(r.events[1], 'release:postgres://fixture@127.0.0.1:1/fixture')
  assert.equal(r.events[3], 'postdeploy:slug-test-pr-1')
  // web ran with NODE_ENV=production and nothing from the caller's environment
  assert.match(r.events[4] ?? '', /^web:\d+:production:leaked=0$/)
})

test('a web process that needs a devDependency at run time fails after the prune', () => {
  const r = runSlugTest({ serverNeedsDevDependency: true })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /web process exited during boot/)
  assert.match(r.stderr, /devonly/)
})

test('a failing release command fails the slug test before web starts', () => {
  const r = runSlugTest({ releaseExit: 1 })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /FAIL: release exited non-zero/)
  assert.ok(!r.events.some(e => e.startsWith('web')), 'web must not start after a failed release')
})

test('a web process that does not exit 0 on SIGTERM fails', () => {
  const r = runSlugTest({ sigtermExit: 1 })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /exited 1 after SIGTERM, expected 0/)
})

test('a readiness endpoint that is not 200 fails', () => {
  const r = runSlugTest({ readiness: 503 })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /GET \/api\/v1\/health answered 503/)
})

test('a web process that never binds PORT fails within the boot timeout', () => {
  const r = runSlugTest({ server: 'setInterval(() => {}, 1000)\n' }, { SLUG_TEST_BOOT_TIMEOUT: '3' })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /GET \/health did not answer 200 within 3 s/)
})
