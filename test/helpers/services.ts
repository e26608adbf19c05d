// Real backing services for tests, started once per test file (node --test runs each file in
// its own process): embedded PostgreSQL (or TEST_DATABASE_URL's server), s3rver and a local
// RS256 issuer with a real HTTP JWKS endpoint. Nothing here is a mock.
import { after } from 'node:test'
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { startServices, createDatabase, type Services } from '../../dev/services.ts'
import { loadConfig, type Config } from '../../lib/config.ts'
import { createSql } from '../../lib/db.ts'
import { migrate } from '../../lib/migrate.ts'

export interface TestServices extends Services {
  /** A fresh, migrated database for this test file. */
  databaseUrl: string
  /** Admin URL of the Postgres server (database "postgres"). */
  adminUrl: string
  /** Make another empty database (not migrated). */
  newDatabase: () => Promise<string>
}

let started: Promise<TestServices> | undefined
let cleanup: (() => Promise<void>) | undefined

// Registered at import time so it belongs to the file's root test: services outlive every
// test of the file and stop once at the end (an `after` inside a test would stop them early)
after(async () => { if (cleanup) await cleanup() })

function withDatabase (url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function start (): Promise<TestServices> {
  // Empty counts as unset, so a CI step can ask for the embedded Postgres
  const external = process.env.TEST_DATABASE_URL === '' ? undefined : process.env.TEST_DATABASE_URL
  const services = await startServices({ databaseUrl: external ?? undefined, origins: ['http://127.0.0.1:5173', 'http://localhost:5173'] })
  const adminUrl = external ?? services.postgres!.url()
  const newDatabase = async () => {
    const name = `t_${randomBytes(6).toString('hex')}`
    await createDatabase(adminUrl, name)
    return withDatabase(adminUrl, name)
  }
  const databaseUrl = await newDatabase()
  const config = loadConfig({ ...services.env, DATABASE_URL: databaseUrl })
  const sql = createSql(config, { max: 1 })
  await migrate(sql)
  await sql.end()
  cleanup = async () => {
    if (external) {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await admin.unsafe(`drop database if exists "${new URL(databaseUrl).pathname.slice(1)}" with (force)`).catch(() => {})
      await admin.end()
    }
    await services.stop()
  }
  return { ...services, databaseUrl, adminUrl, newDatabase, env: { ...services.env, DATABASE_URL: databaseUrl } }
}

export async function getServices (): Promise<TestServices> {
  started ??= start()
  return await started
}

/**
 * The environment a test app runs with: the real local services, quiet logs, no rate limit,
 * no load shedding (a loaded 2-core CI machine would shed at random; tests that check either
 * switch them on).
 */
export async function testEnv (overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const services = await getServices()
  return { ...services.env, LOG_LEVEL: 'silent', RATE_LIMIT_ENABLED: 'false', LOAD_SHEDDING_ENABLED: 'false', ...overrides }
}

export async function testConfig (overrides: Record<string, string> = {}): Promise<Config> {
  return loadConfig(await testEnv(overrides))
}
