// docs/deploy.md must not drift from what it documents: config vars, commands, Terraform
// names, the promote workflow's settings and the connection arithmetic table.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigSchema } from '../../lib/config.ts'
import { infraDir, repoRoot, loadModule } from './terraform-model.ts'

const doc = readFileSync(join(repoRoot, 'docs/deploy.md'), 'utf8')
const root = await loadModule(infraDir)
const appJson = JSON.parse(readFileSync(join(repoRoot, 'app.json'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'))
const schemaProps = ConfigSchema.properties as Record<string, { default?: unknown }>
const requiredKeys = (ConfigSchema.required as string[]).filter(k => !('default' in (schemaProps[k] ?? {})))

test('every config var the app requires is documented with where it comes from', () => {
  for (const key of [...requiredKeys, 'PORT', 'DATABASE_POOL_MAX', 'WEB_CONCURRENCY', 'REDIS_URL']) {
    assert.ok(doc.includes(`\`${key}\``), `docs/deploy.md mentions \`${key}\``)
  }
  const poolDefault = /`DATABASE_POOL_MAX` defaults to (\d+)/.exec(doc)?.[1]
  assert.equal(Number(poolDefault), schemaProps.DATABASE_POOL_MAX?.default, 'the documented pool default is lib/config.ts\'s')
})

test('the commands it tells you Heroku runs are the ones in the Procfile and app.json', () => {
  const procfile = readFileSync(join(repoRoot, 'Procfile'), 'utf8')
  for (const line of procfile.split(/\r?\n/).filter(Boolean)) {
    const [type, command] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]
    assert.ok(doc.includes(`${type}: ${command}`) || doc.includes(`\`${command}\``), `documents the ${type} command ${command}`)
  }
  for (const [name, command] of Object.entries(appJson.scripts as Record<string, string>)) {
    assert.ok(doc.includes(`\`${name}\``) && doc.includes(`\`${command}\``), `documents app.json ${name}: ${command}`)
  }
  assert.ok(doc.includes('`node dist/bin/cleanup.js`'), 'documents the Scheduler command')
  assert.match(doc, /every 10 minutes/)
  assert.ok(doc.includes(`Node.js ${String(pkg.engines.node).replace('.x', '')}`), 'the Node version is package.json engines')
})

test('every Terraform name it mentions exists in infra/', () => {
  const names = new Set([...Object.keys(root.variable), ...Object.keys(root.output), ...Object.keys(root.locals)])
  // snake_case names in backticks with a Terraform-ish prefix (not `node_modules` and the like)
  const mentioned = [...doc.matchAll(/`(\*?_?[a-z][a-z0-9]*(?:_[a-z0-9*]+)+)(?: = [^`]*)?`/g)].map(m => m[1] as string)
    .filter(n => /^(\*|staging_|production_|enable_|github_|manage_|review_|image_|aws_region|heroku_|pipeline_|reserved_|postgres_)/.test(n))
  assert.ok(mentioned.length >= 10, `found ${mentioned.length} Terraform names`)
  for (const name of mentioned) {
    const re = new RegExp('^' + name.replace(/\*/g, '[a-z0-9_]+') + '$')
    assert.ok([...names].some(n => re.test(n)), `\`${name}\` is a variable, output or local in infra/`)
  }
  for (const flag of ['enable_review_apps', 'github_repository', 'manage_formation', 'production_domain']) {
    assert.ok(doc.includes(flag), `documents ${flag}`)
  }
})

test('the promote workflow\'s settings are documented', () => {
  const workflow = readFileSync(join(repoRoot, '.github/workflows/promote.yml'), 'utf8')
  for (const name of [...workflow.matchAll(/\$\{\{ (?:secrets|vars)\.(\w+) \}\}/g)].map(m => m[1] as string)) {
    assert.ok(doc.includes(`\`${name}\``), `docs/deploy.md tells where to set ${name}`)
  }
  assert.ok(doc.includes('environment') && doc.includes('`production`'))
})

test('the connection arithmetic table adds up and agrees with the Terraform check', () => {
  const reserved = root.locals.reserved_connections as number
  const limits = root.locals.postgres_connection_limits as Record<string, number>
  const rows = [...doc.matchAll(/^\|[^|\n]+\| ([\w-]+) \((\d+)\) \| \((\d+)\+1\)x(\d+)x(\d+)x2 \+ (\d+) = (\d+) \| \**(yes|no)/gm)]
  assert.ok(rows.length >= 5, `found ${rows.length} arithmetic rows`)
  for (const [line, plan, limit, pool, processes, dynos, plus, total, fits] of rows) {
    assert.equal(Number(plus), reserved, `${line}: reserved connections as in infra/heroku.tf`)
    // +1 per process: the LISTEN connection of the public cache, outside the pool
    assert.equal((Number(pool) + 1) * Number(processes) * Number(dynos) * 2 + Number(plus), Number(total), `${line}: arithmetic`)
    assert.equal(limits[`heroku-postgresql:${String(plan).toLowerCase()}`], Number(limit), `${line}: ${plan}'s limit as in infra/heroku.tf`)
    assert.equal(fits === 'yes', Number(total) <= Number(limit), `${line}: fits column`)
  }
  assert.ok(rows.some(r => r[8] === 'no'), 'shows a setup that does not fit')
})
