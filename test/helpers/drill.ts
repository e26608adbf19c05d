// Shared pieces of the failure drills (test/drills/): the BUILT server as a child process
// against the real local services, bounded request loops that record every outcome, and
// pg_stat_activity probes. Loopback only; every loop is bounded in count and time.
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import postgres from 'postgres'
import { getServices, testEnv, type TestServices } from './services.ts'
import { ensureBuilt, procfileNodeArgs, spawnServer, until, type ServerProcess } from './spawn-server.ts'
import { seedGallery } from './seed.ts'

export interface Drill { services: TestServices, admin: postgres.Sql, database: string }

let seeded: Promise<void> | undefined

/** Builds dist/ if stale, starts this file's services and seeds 200 public images once. */
export async function drillSetup (t: TestContext | { after: (fn: () => unknown) => void }): Promise<Drill> {
  ensureBuilt()
  const services = await getServices()
  const admin = postgres(services.databaseUrl, { max: 3, onnotice: () => {}, connection: { application_name: 'drill-admin' } })
  t.after(() => admin.end({ timeout: 5 }))
  seeded ??= seedGallery(admin, { images: 200, collections: 3, hidden: 20, prefix: 'drill' }).then(() => {})
  await seeded
  return { services, admin, database: new URL(services.databaseUrl).pathname.slice(1) }
}

/**
 * A login role for the app with table privileges (and optionally a connection limit), dropped
 * after the test with its sessions; returns the DATABASE_URL that logs in as it.
 */
export async function appRole (t: TestContext | { after: (fn: () => unknown) => void }, { admin, services, database }: Drill, role: string, { password = 'drill', connectionLimit, createOnSchema = false }: { password?: string, connectionLimit?: number, createOnSchema?: boolean } = {}): Promise<string> {
  await admin.unsafe(`drop role if exists ${role}`).catch(() => {})
  await admin.unsafe(`create role ${role} login password '${password}'${connectionLimit === undefined ? '' : ` connection limit ${connectionLimit}`}`)
  await admin.unsafe(`grant connect on database "${database}" to ${role}`)
  await admin.unsafe(`grant usage${createOnSchema ? ', create' : ''} on schema public to ${role}`)
  await admin.unsafe(`grant select, insert, update, delete on all tables in schema public to ${role}`)
  t.after(async () => {
    await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`).catch(() => {})
    await admin.unsafe(`drop owned by ${role}`).catch(() => {})
    await admin.unsafe(`drop role if exists ${role}`).catch(() => {})
  })
  const url = new URL(services.databaseUrl)
  url.username = role
  url.password = password
  return url.toString()
}

/**
 * The built server as the Procfile's web line runs it (its V8 flags: a 192 MB heap cap, so a
 * leak ends in a crash the drill sees), with the test services' environment (quiet logs, no IP
 * rate limit) plus overrides.
 */
export async function startBuilt (t: TestContext | { after: (fn: () => unknown) => void }, overrides: Record<string, string> = {}): Promise<ServerProcess> {
  const env = await testEnv({ LOG_LEVEL: 'warn', ...overrides })
  const server = await spawnServer({ env, nodeArgs: procfileNodeArgs() })
  t.after(() => server.stop(10_000))
  return server
}

export interface Outcome {
  label: string
  status: number
  /** Network-level failure (ECONNREFUSED, ECONNRESET, timeout), when there was no response. */
  error?: string
  code?: string
  body?: string
  startedAt: number
  ms: number
}

export async function send (url: string, init: RequestInit & { label?: string, timeoutMs?: number } = {}): Promise<Outcome> {
  const startedAt = Date.now()
  const label = init.label ?? `${init.method ?? 'GET'} ${new URL(url).pathname}`
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 30_000) })
    const body = await res.text()
    let code: string | undefined
    try { code = (JSON.parse(body) as { code?: string }).code } catch {}
    return { label, status: res.status, code, body: body.slice(0, 20_000), startedAt, ms: Date.now() - startedAt }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string, message?: string } }
    return { label, status: 0, error: e.cause?.code ?? e.cause?.message ?? e.name ?? String(err), startedAt, ms: Date.now() - startedAt }
  }
}

/**
 * Polls readiness (/api/v1/health) every 250 ms until `check` has `status`, with the answer's
 * status code to match (503 while a check fails, 200 when all pass). With `answerMs`, every
 * answer, failing or not, must come within it.
 */
export async function readinessIs (url: string, check: string, status: 'ok' | 'fail', { withinMs = 15_000, answerMs }: { withinMs?: number, answerMs?: number } = {}): Promise<boolean> {
  return await until(async () => {
    const o = await send(`${url}/api/v1/health`, { timeoutMs: answerMs === undefined ? undefined : 10_000 })
    if (answerMs !== undefined) assert.ok(o.ms <= answerMs, `readiness answered after ${o.ms} ms: ${o.status} ${o.error ?? o.body}`)
    const checks = (JSON.parse(o.body ?? '{}') as { checks?: Record<string, { status?: string }> }).checks ?? {}
    return checks[check]?.status === status && o.status === (status === 'fail' ? 503 : 200)
  }, withinMs, 250)
}

export interface HammerOptions {
  /** Upper bound on requests sent. */
  count: number
  concurrency: number
  /** Upper bound on wall time. */
  maxMs: number
  make: (i: number) => { url: string, init?: RequestInit & { label?: string, timeoutMs?: number } }
  /** Stop early when this returns true. */
  stop?: () => boolean
}

/** A bounded closed-loop load: `concurrency` workers sending until count, time or stop(). */
export async function hammer ({ count, concurrency, maxMs, make, stop }: HammerOptions): Promise<Outcome[]> {
  const out: Outcome[] = []
  const deadline = Date.now() + maxMs
  let next = 0
  const worker = async () => {
    while (next < count && Date.now() < deadline && !(stop?.() ?? false)) {
      const { url, init } = make(next++)
      out.push(await send(url, init))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return out
}

export function summary (outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const o of outcomes) {
    const k = o.status === 0 ? `error:${o.error}` : String(o.status)
    counts[k] = (counts[k] ?? 0) + 1
  }
  return counts
}

/** Backends of the app (application_name gallery-api) in this database, optionally filtered. */
export async function appBackends (admin: postgres.Sql, database: string, extra: { activeQueryLike?: string } = {}): Promise<{ pid: number, state: string | null, query: string, wait_event_type: string | null }[]> {
  const rows = await admin<{ pid: number, state: string | null, query: string, wait_event_type: string | null }[]>`
    select pid, state, query, wait_event_type from pg_stat_activity
    where application_name = 'gallery-api' and datname = ${database}`
  if (extra.activeQueryLike === undefined) return rows
  const needle = extra.activeQueryLike.toLowerCase()
  return rows.filter(r => r.state === 'active' && r.query.toLowerCase().includes(needle))
}

export const sleep = async (ms: number) => await new Promise(resolve => setTimeout(resolve, ms))

/** A writer token from the local issuer (a distinct subject per call unless given). */
let subjects = 0
export function writerToken (services: TestServices, sub = `auth0|drill-${process.pid}-${subjects++}`): string {
  return services.issuer.token({ sub, permissions: ['write:gallery'] })
}

export function bearer (token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}
