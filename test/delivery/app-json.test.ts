// app.json (review apps, Heroku CI) against the app.json JSON Schema shipped in the npm
// package @heroku/mcp-server (dist/utils/app-json.schema.json), then against what the app
// itself needs: the Procfile, lib/config.ts and compiled scripts that run on a pruned slug.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { ConfigSchema, SECRET_KEYS } from '../../lib/config.ts'
import { repoRoot } from './terraform-model.ts'

// The package's "exports" map does not reach this file, so it is read by path
const schemaPath = join(repoRoot, 'node_modules/@heroku/mcp-server/dist/utils/app-json.schema.json')
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'))
const appJson = JSON.parse(readFileSync(join(repoRoot, 'app.json'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'))

// The schema's only format is "uri"; a URL parse is what it means here
const ajv = new Ajv({ allErrors: true, strict: false, formats: { uri: (s: string) => URL.canParse(s) } })
const validate = ajv.compile(schema)

const schemaProps = ConfigSchema.properties as Record<string, { default?: unknown }>
const requiredKeys = (ConfigSchema.required as string[]).filter(k => !('default' in (schemaProps[k] ?? {})))
/** Heroku-injected variables read outside lib/config.ts, with the file that reads each. */
const platformOnly: Record<string, string> = { HEROKU_PR_NUMBER: 'bin/delete-prefix.ts' }
const env = appJson.env as Record<string, { value?: string, required?: boolean, generator?: string, description?: string }>

function procfile (): Record<string, string> {
  const text = readFileSync(join(repoRoot, 'Procfile'), 'utf8')
  return Object.fromEntries(text.split(/\r?\n/).map(l => /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(l)).filter(m => m !== null).map(m => [m[1], m[2]]))
}

test('app.json is valid against the app.json schema from @heroku/mcp-server', () => {
  const ok = validate(appJson)
  assert.ok(ok, JSON.stringify(validate.errors, null, 2))
})

test('the schema is strict where Heroku\'s docs are loose, and the validator applies it', () => {
  // Heroku's docs allow "KEY": "value" and object-form scripts; this schema does not, so
  // app.json stays within the stricter form
  assert.equal(validate({ env: { FOO: 'bar' } }), false)
  assert.equal(validate({ scripts: { postdeploy: { command: 'x', size: 'basic' } } }), false)
  assert.equal(validate({ formation: { web: { size: 'basic' } } }), false, 'formation needs a quantity')
  assert.equal(validate({ stack: 'cedar-14' }), false)
  assert.equal(validate({ unknownKey: true }), false)
  assert.equal(validate({ env: { FOO: { value: 'bar' } }, scripts: { postdeploy: 'node x.js' } }), true)
})

test('review apps build like staging: heroku/nodejs on the current stack, a Postgres add-on, a web dyno the Procfile defines', () => {
  assert.deepEqual(appJson.buildpacks, [{ url: 'heroku/nodejs' }])
  assert.equal(appJson.stack, 'heroku-24')
  const plans = (appJson.addons as Array<string | { plan: string }>).map(a => typeof a === 'string' ? a : a.plan)
  assert.ok(plans.some(p => p.startsWith('heroku-postgresql')), 'a Postgres add-on provides DATABASE_URL')
  const processes = procfile()
  assert.ok(processes.web, 'Procfile has a web process')
  assert.ok(processes.release, 'Procfile has a release process (migrations)')
  for (const [type, f] of Object.entries(appJson.formation as Record<string, { quantity: number }>)) {
    assert.ok(type in processes, `formation ${type} is a Procfile process type`)
    assert.ok(f.quantity >= 1)
  }
})

test('env: every variable lib/config.ts requires is set or required from the pipeline; secrets never have a value', () => {
  const provided = new Set(['PORT', 'DATABASE_URL']) // the router and the Postgres add-on
  const missing = requiredKeys.filter(k => !provided.has(k) && !(k in env))
  assert.deepEqual(missing, [])
  for (const [key, spec] of Object.entries(env)) {
    if (key in platformOnly) {
      // Not configuration: a Heroku-injected fact one command reads directly
      assert.ok(readFileSync(join(repoRoot, platformOnly[key]!), 'utf8').includes(`process.env.${key}`), `${platformOnly[key]} reads ${key}`)
    } else {
      assert.ok(key in schemaProps, `${key} is a variable lib/config.ts knows`)
    }
    assert.ok(spec.value !== undefined || spec.required === true || spec.generator === 'secret', `${key} has a value or is required`)
    assert.ok(typeof spec.description === 'string' && spec.description.length > 0, `${key} is described for whoever creates the app`)
  }
  for (const key of SECRET_KEYS) {
    if (key in env) assert.equal(env[key]?.value, undefined, `${key} must not have a literal value in app.json`)
  }
  for (const key of ['AUTH0_DOMAIN', 'AUTH0_AUDIENCE', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
    assert.equal(env[key]?.required, true, `${key} comes from the pipeline's review config vars`)
  }
  // Review apps use their own name as S3 prefix: Heroku injects it only when declared
  assert.equal(env.HEROKU_APP_NAME?.required, true)
  // ... and the PR number only when declared: delete-prefix refuses to run without it
  assert.equal(env.HEROKU_PR_NUMBER?.required, true)
  assert.ok(!('S3_KEY_PREFIX' in env), 'a fixed prefix would make review apps share (and pr-predestroy delete) one prefix')
  assert.equal(env.ENVIRONMENT?.value, 'staging')
})

test('postdeploy and pr-predestroy run compiled JavaScript built from bin/ (the slug test runs them on the pruned slug)', () => {
  const scripts = appJson.scripts as Record<string, string>
  assert.equal(scripts.postdeploy, 'node dist/bin/seed.js')
  assert.equal(scripts['pr-predestroy'], 'node dist/bin/delete-prefix.js')
  for (const command of Object.values(scripts)) {
    const m = /^node (dist\/(.+)\.js)$/.exec(command)
    assert.ok(m, `${command} runs a compiled file with plain node (no tsx, no npm run, no devDependency)`)
    const source = join(repoRoot, `${m[2]}.ts`)
    assert.ok(existsSync(source), `${m[2]}.ts exists so the build emits ${m[1]}`)
    // npm test builds first (pretest); the slug test also runs both against the pruned slug
    assert.ok(existsSync(join(repoRoot, `dist/${m[2]}.js`)), `npm run build emitted ${m[1]}`)
  }
})

test('Heroku CI runs lint, type check and tests through npm scripts that exist', () => {
  const command = appJson.environments?.test?.scripts?.test as string
  assert.ok(command)
  const scripts = [...command.matchAll(/npm (?:run )?([\w:-]+)/g)].map(m => m[1] === 'test' ? 'test' : m[1])
  assert.deepEqual(scripts, ['lint', 'typecheck', 'test'])
  for (const s of scripts) assert.ok(pkg.scripts?.[s as string], `package.json has a "${s}" script`)
})
