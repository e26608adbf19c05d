// postgres.js pool factory shared by the web process and the commands in bin/.
import postgres from 'postgres'
import { type Config, databaseSsl } from './config.ts'

export const APPLICATION_NAME = 'gallery-api'

export interface SqlOptions {
  max?: number
  applicationName?: string
  connectTimeoutSeconds?: number
  statementTimeoutMs?: number
}

export function createSql (config: Config, opts: SqlOptions = {}) {
  return postgres(config.DATABASE_URL, {
    max: opts.max ?? config.DATABASE_POOL_MAX,
    ssl: databaseSsl(config),
    connect_timeout: opts.connectTimeoutSeconds ?? 5,
    // Idle connections are released so a quiet dyno does not hold plan slots
    idle_timeout: 30,
    max_lifetime: 60 * 30,
    // postgres.js' default reconnect backoff grows to 20 s (shared by the pool), so after
    // Postgres comes back requests kept failing for many seconds; retry quickly, capped at 1 s
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    // fetch_types stays on: with it off, postgres.js 3.4 never resolves sql.reserve()
    onnotice: () => {},
    connection: {
      application_name: opts.applicationName ?? APPLICATION_NAME,
      // Postgres itself kills a runaway query before the request budget ends
      statement_timeout: opts.statementTimeoutMs ?? config.DATABASE_STATEMENT_TIMEOUT_MS,
      idle_in_transaction_session_timeout: 15000
    }
  })
}

export type Sql = ReturnType<typeof createSql>

/** Cancel a running postgres.js query when the request's signal aborts (handler timeout or client gone). */
export async function cancellable<T> (query: postgres.PendingQuery<postgres.Row[]> & Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return await query
  const cancel = () => { Promise.resolve(query.cancel()).catch(() => {}) }
  if (signal.aborted) { cancel(); throw signal.reason }
  const onAbort = cancel
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await query
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

// SQLSTATE classes that mean "the database cannot serve this now", answered 503 rather than 500.
const UNAVAILABLE_CODES = new Set([
  '57014', // query_canceled (statement_timeout or cancel)
  '57P01', '57P02', '57P03', // admin/crash shutdown, cannot connect now
  '53300', // too_many_connections
  '53000', '53100', '53200', // insufficient resources, disk full, out of memory
  '25006', // read_only_sql_transaction (Heroku over-plan state revokes writes)
  '42501', // insufficient_privilege (Heroku revokes INSERT/UPDATE when over the row limit)
  '08000', '08003', '08006', '08001', '08004'
])
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'])

export function isDatabaseUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code))
}
