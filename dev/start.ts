// `npm run dev`: the whole API on this machine with no variables and no installed services.
// Embedded PostgreSQL (data kept in .data/), s3rver with the bucket and CORS, a local token
// issuer; applies migrations, starts the API, prints the URLs and a write:gallery token.
// Any variable already set in the environment (DATABASE_URL, PORT, ...) wins.
import { join } from 'node:path'
import { startServices } from './services.ts'
import { loadConfig, ConfigError } from '../lib/config.ts'
import { createSql } from '../lib/db.ts'
import { migrate } from '../lib/migrate.ts'
import { buildApp } from '../app.ts'

const root = join(import.meta.dirname, '..')
const port = Number(process.env.PORT ?? 3000)
const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`]

console.log('starting embedded services (first run initialises PostgreSQL, ~10 s)...')
const services = await startServices({
  dataDir: join(root, '.data'),
  databaseUrl: process.env.DATABASE_URL,
  ports: { postgres: Number(process.env.DEV_POSTGRES_PORT ?? 54329), s3: Number(process.env.DEV_S3_PORT ?? 4569), issuer: Number(process.env.DEV_ISSUER_PORT ?? 4100) },
  origins
})

let config
try {
  // debug: a line for every request. At info the app leaves quick successes to Heroku's
  // router log (app.ts), and here there is no router
  config = loadConfig({ ...services.env, LOG_LEVEL: 'debug', RATE_LIMIT_ENABLED: 'false', ...process.env, PORT: String(port) })
} catch (err) {
  await services.stop()
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(2)
}

const sql = createSql(config, { max: 1, statementTimeoutMs: 0 })
const { applied } = await migrate(sql)
await sql.end()
if (applied.length > 0) console.log(`applied migrations: ${applied.join(', ')}`)

const { registerDevRoutes } = await import('./routes.ts')
const app = await buildApp(config, { extend: (a) => registerDevRoutes(a, services) })
await app.listen({ host: '0.0.0.0', port })

const token = services.issuer.token({ permissions: ['write:gallery'] })
console.log(`
gallery-api is running (ENVIRONMENT=development)
  API            http://localhost:${port}/api/v1/collections
  Docs           http://localhost:${port}/docs   (OpenAPI: /openapi.json)
  Try an upload  http://localhost:${port}/dev
  Readiness      http://localhost:${port}/api/v1/health
  Local S3       ${services.s3.endpoint} (bucket ${services.s3.bucket})
  Token issuer   ${services.issuer.url} (POST /token for a fresh token)

A write:gallery token, valid 1 h:
  export TOKEN=${token}
  curl -H "authorization: Bearer $TOKEN" http://localhost:${port}/api/v1/me

Ctrl-C stops everything.`)

let stopping = false
async function shutdown () {
  if (stopping) return
  stopping = true
  console.log('\nstopping...')
  await app.close()
  await services.stop()
  process.exit(0)
}
process.on('SIGINT', () => { shutdown().catch(console.error) })
process.on('SIGTERM', () => { shutdown().catch(console.error) })
