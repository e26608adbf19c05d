// A tiny Heroku-shaped app for testing scripts/slug-test.sh itself: a git repository with a
// Procfile, app.json scripts, a build step, a local devDependency and a dev/services.ts that
// speaks the same --print-env protocol as the real one. Each process appends what it did to
// an event log, so a test can see which Procfile and app.json commands ran, and in what order.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'

export interface FixtureOptions {
  /** Server source override (ESM, runs as dist/server.mjs). */
  server?: string
  /** Exit code of the release command. */
  releaseExit?: number
  /** Status /api/v1/health answers. */
  readiness?: number
  /** Exit code after SIGTERM. */
  sigtermExit?: number
  /** The server imports the devDependency at run time (what pruning must catch). */
  serverNeedsDevDependency?: boolean
}

export interface Fixture { dir: string, events: string, cleanup: () => void }

const npmEnv = { ...process.env, NPM_CONFIG_AUDIT: 'false', NPM_CONFIG_FUND: 'false', NPM_CONFIG_UPDATE_NOTIFIER: 'false' }

const log = (events: string) => `import { appendFileSync } from 'node:fs'\nconst event = (e) => appendFileSync(${JSON.stringify(events)}, e + '\\n')\n`

export function makeFixture (opts: FixtureOptions = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'slug-fixture-'))
  const events = join(dir, '..', `${dir.split('/').pop() ?? 'fixture'}.events`)
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const major = process.versions.node.split('.')[0]
  write('package.json', JSON.stringify({
    name: 'slug-fixture',
    version: '1.0.0',
    private: true,
    type: 'module',
    engines: { node: `${major}.x` },
    scripts: { build: 'node build.mjs' },
    devDependencies: { devonly: 'file:./vendor/devonly' }
  }, null, 2))
  write('vendor/devonly/package.json', JSON.stringify({ name: 'devonly', version: '1.0.0', type: 'module', main: 'index.js' }))
  write('vendor/devonly/index.js', 'export default "dev"\n')
  write('.gitignore', 'node_modules/\ndist/\nsecret.local\n')
  write('secret.local', 'must not be copied\n')
  write('build.mjs', `${log(events)}import { cpSync, existsSync } from 'node:fs'
if (existsSync('secret.local')) { console.error('ignored file was copied'); process.exit(1) }
if (!existsSync('untracked.txt')) { console.error('untracked file was not copied'); process.exit(1) }
if (process.env.NODE_ENV !== 'production') { console.error('build must run with NODE_ENV=production'); process.exit(1) }
await import('devonly')
cpSync('src', 'dist', { recursive: true })
event('build')
`)
  write('src/migrate.mjs', `${log(events)}event('release:' + (process.env.DATABASE_URL ?? 'no-database-url'))
process.exit(${opts.releaseExit ?? 0})
`)
  write('src/seed.mjs', `${log(events)}event('postdeploy:' + process.env.HEROKU_APP_NAME)\n`)
  write('src/delete-prefix.mjs', `${log(events)}event('predestroy:' + process.env.HEROKU_APP_NAME)\n`)
  write('src/server.mjs', opts.server ?? `${log(events)}import { createServer } from 'node:http'
${opts.serverNeedsDevDependency === true ? "await import('devonly')\n" : ''}const leaked = Object.keys(process.env).filter(k => k.startsWith('SLUG_FIXTURE_LEAK'))
const server = createServer((req, res) => {
  const status = req.url === '/health' ? 200 : req.url === '/api/v1/health' ? ${opts.readiness ?? 200} : 404
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end('{}')
})
server.listen(Number(process.env.PORT), '0.0.0.0', () => event('web:' + process.env.PORT + ':' + process.env.NODE_ENV + ':leaked=' + leaked.length))
process.on('SIGTERM', () => { event('sigterm'); server.close(() => process.exit(${opts.sigtermExit ?? 0})) })
`)
  write('Procfile', 'web: node dist/server.mjs\nrelease: node dist/migrate.mjs\n')
  write('app.json', JSON.stringify({ name: 'slug-fixture', scripts: { postdeploy: 'node dist/seed.mjs', 'pr-predestroy': 'node dist/delete-prefix.mjs' } }))
  write('dev/services.ts', `// Fake backing services for the slug-test fixture
const env: Record<string, string> = { DATABASE_URL: 'postgres://fixture@127.0.0.1:1/fixture', ENVIRONMENT: 'development' }
for (const [k, v] of Object.entries(env)) console.log(\`\${k}=\${v}\`)
console.log('READY')
setInterval(() => {}, 1000)
process.once('SIGTERM', () => process.exit(0))
`)
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: dir, env: npmEnv, stdio: 'pipe' })
  execFileSync('git', ['init', '-q'], { cwd: dir })
  execFileSync('git', ['add', '-A'], { cwd: dir })
  execFileSync('git', ['-c', 'user.name=fixture', '-c', 'user.email=fixture@example.invalid', 'commit', '-qm', 'fixture'], { cwd: dir })
  write('untracked.txt', 'copied although not committed\n')
  return { dir, events, cleanup: () => { rmSync(dir, { recursive: true, force: true }); rmSync(events, { force: true }) } }
}
