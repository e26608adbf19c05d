// .github/workflows validated with @action-validator/core (the GitHub Actions workflow
// schema, compiled to WebAssembly), then checked for what this project needs from them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { validateWorkflow } from '@action-validator/core'
import { parse } from 'yaml'
import { repoRoot } from './terraform-model.ts'

const dir = join(repoRoot, '.github/workflows')
const read = (name: string) => readFileSync(join(dir, name), 'utf8')
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'))

interface Step { uses?: string, run?: string, with?: Record<string, unknown>, name?: string, env?: Record<string, string> }
interface Job { steps: Step[], services?: Record<string, { image: string, ports?: string[] }>, 'timeout-minutes'?: number, environment?: string, if?: string, env?: Record<string, string> }
interface Workflow { on: Record<string, unknown>, permissions?: Record<string, string>, jobs: Record<string, Job>, concurrency?: { group: string } }

test('every workflow is valid for GitHub Actions', () => {
  const files = readdirSync(dir).filter(f => /\.ya?ml$/.test(f))
  assert.deepEqual(files.sort(), ['ci.yml', 'promote.yml'])
  for (const f of files) {
    const state = validateWorkflow(read(f))
    assert.deepEqual(state.errors, [], `${f}: ${JSON.stringify(state.errors, null, 2)}`)
  }
})

test('the validator rejects a broken workflow (it is live)', () => {
  const broken = 'on: push\njobs:\n  build:\n    runs-onn: ubuntu-24.04\n    steps:\n      - run: echo\n'
  assert.ok(validateWorkflow(broken).errors.length > 0)
})

test('every action is pinned to a version, and every job has a timeout and least privilege', () => {
  for (const f of ['ci.yml', 'promote.yml']) {
    const wf = parse(read(f)) as Workflow
    assert.deepEqual(wf.permissions, { contents: 'read' }, `${f}: read-only token`)
    for (const [name, job] of Object.entries(wf.jobs)) {
      assert.ok((job['timeout-minutes'] ?? 0) > 0 && (job['timeout-minutes'] ?? 0) <= 60, `${f} ${name}: timeout-minutes`)
      for (const step of job.steps) {
        if (step.uses) assert.match(step.uses, /^[\w.-]+\/[\w.-]+@(v\d+|[0-9a-f]{40})$/, `${f}: ${step.uses} is pinned`)
      }
    }
  }
})

test('ci.yml: Node 24 with the npm cache, a Postgres service, and lint, type check, tests, the slug test and the drills', () => {
  const wf = parse(read('ci.yml')) as Workflow
  assert.ok('push' in wf.on && 'pull_request' in wf.on)
  const jobs = Object.values(wf.jobs)
  assert.equal(jobs.length, 1)
  const job = jobs[0] as Job
  const setup = job.steps.find(s => s.uses?.startsWith('actions/setup-node@'))
  assert.ok(setup)
  const engines = /^(\d+)/.exec(String(pkg.engines?.node))?.[1]
  assert.equal(String(setup.with?.['node-version']), engines, 'CI runs the Node major of package.json engines (what Heroku installs)')
  assert.equal(setup.with?.cache, 'npm')
  assert.ok(job.steps.findIndex(s => s.uses?.startsWith('actions/checkout@')) === 0, 'checkout first')

  const postgres = job.services?.postgres
  assert.match(postgres?.image ?? '', /^postgres:\d+$/)
  assert.deepEqual(postgres?.ports, ['5432:5432'])
  assert.match(job.env?.TEST_DATABASE_URL ?? '', /^postgres:\/\/postgres:postgres@127\.0\.0\.1:5432\//)

  const runs = job.steps.map(s => s.run).filter((r): r is string => typeof r === 'string')
  assert.deepEqual(runs.filter(r => r.startsWith('npm ')), ['npm ci', 'npm run lint', 'npm run typecheck', 'npm test', 'npm run slug-test', 'npm run drill'])
  // The Postgres-down drill stops its own Postgres: the drills must not get the service's URL
  const drill = job.steps.find(s => s.run === 'npm run drill')
  assert.equal(drill?.env?.TEST_DATABASE_URL, '', 'the drills run on the embedded Postgres')
  const browser = runs.findIndex(r => r.includes('/usr/bin/chromium'))
  assert.ok(browser > runs.indexOf('npm ci') && browser < runs.indexOf('npm test'), 'the browser the upload test drives is in place before the tests')
  for (const r of runs) {
    const script = /^npm run ([\w:-]+)$/.exec(r)?.[1]
    if (script) assert.ok(pkg.scripts?.[script], `package.json has a "${script}" script`)
  }
  assert.equal(pkg.scripts?.['slug-test'], 'bash scripts/slug-test.sh')
})

test('promote.yml: manual only, confirmed, serialized, Heroku CLI promotion of staging to production with checks', () => {
  const text = read('promote.yml')
  const wf = parse(text) as Workflow
  assert.deepEqual(Object.keys(wf.on), ['workflow_dispatch'], 'never promoted by a push')
  assert.equal(wf.concurrency?.group, 'promote-production')
  const job = Object.values(wf.jobs)[0] as Job
  // eslint-disable-next-line no-template-curly-in-string -- GitHub expression syntax
  assert.equal(job.if, "${{ inputs.confirm == 'promote' }}")
  assert.equal(job.environment, 'production', 'GitHub environment: required reviewers and the secret live there')
  // eslint-disable-next-line no-template-curly-in-string -- GitHub expression syntax
  assert.equal(job.env?.HEROKU_API_KEY, '${{ secrets.HEROKU_API_KEY }}', 'the API key only from secrets')
  const runs = job.steps.map(s => s.run ?? '').join('\n')
  const order = ['/api/v1/health', 'heroku pipelines:promote --app "$STAGING_APP" --to "$PRODUCTION_APP"', 'heroku releases --app "$PRODUCTION_APP"', 'heroku releases:output']
  let at = -1
  for (const needle of order) {
    const i = runs.indexOf(needle, at + 1)
    assert.ok(i > at, `promote.yml runs "${needle}" in order`)
    at = i
  }
  assert.match(runs, /status" != succeeded/, 'a failed release phase fails the workflow')
  assert.doesNotMatch(text, /HRKU-|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i, 'no token literal')
})
