// Fails database work fast while Postgres cannot be reached, and finds out by itself when it
// can again.
//
// Why: postgres.js queues a query until a pool connection takes it. While the server refuses
// connections, each attempt first waits out the reconnect backoff (up to 1 s, lib/db.ts) and then
// fails only the one query it was opened for, so queued requests waited for seconds: in the
// Postgres-down drill every request of the outage took 2.4-4 s against a 4 s budget, over half
// of them ended by the budget's own 503. Once a connection attempt has failed and a probe
// (`select 1` on the pool, which takes an open connection first) fails too, the gate refuses
// database work at once (503 GALLERY_DATABASE_UNAVAILABLE, as before, only now in
// milliseconds), and the probe runs again `probeEveryMs` after each failure until Postgres
// answers; then work passes again. A cached public page is served until its entry expires (5 s):
// only a fill needs the database.
//
// Only a failure to connect can close it, and only when the probe confirms it: one slow login
// (CONNECT_TIMEOUT covers TCP, TLS and authentication) or a DNS hiccup while pooled connections
// still work must not turn the whole process into 503s. A statement timeout, a revoked
// privilege, a full connection cap (53300) or one connection killed by an administrator says
// nothing about the next connection; those errors pass through as before.
//
// Written here rather than taken from a circuit-breaker package (opossum, cockatiel): those open
// on a share of failures over a rolling window and let a user's request through as the trial
// when half-open, where here one refused connection is decisive, and a trial request would wait
// out the pool's backoff on a user's time. The gate's whole state is one flag and one loop.
import { setTimeout as sleep } from 'node:timers/promises'
import { Errors } from './errors.ts'
import { withDeadline } from './readiness.ts'

// Connection attempts that found no server: refused, timed out, no such host, a Unix socket
// path with nothing behind it (ENOENT), or a server starting up or shutting down (57P03
// cannot_connect_now)
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', '57P03'])

export function isConnectFailure (err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' && CONNECT_FAILURES.has(code)
}

export interface DbGate {
  /** Runs `work`, or refuses it at once while Postgres is known unreachable. */
  run: <T>(work: () => Promise<T>) => Promise<T>
  /** True while database work is refused. */
  readonly closed: boolean
  /** Stops probing (the app is closing). */
  stop: () => void
}

export interface DbGateOptions {
  /** Succeeds once Postgres answers a query; should stop when `signal` aborts. */
  probe: (signal: AbortSignal) => Promise<unknown>
  probeEveryMs?: number
  /** A probe that has not answered by then failed (a dead socket can take minutes to error). */
  probeTimeoutMs?: number
  onClosed?: (err: unknown) => void
  /** A probe failed with another code than the one before (a changed password, a full cap...). */
  onProbeFailed?: (err: unknown) => void
  onOpened?: (downMs: number) => void
}

export function createDbGate ({ probe, probeEveryMs = 250, probeTimeoutMs = 2000, onClosed, onProbeFailed, onOpened }: DbGateOptions): DbGate {
  let closedAt: number | undefined
  let checking = false
  let stopped = false
  let lastProbeCode: unknown

  /** Resolves true when the probe answered within probeTimeoutMs. */
  async function answers (): Promise<boolean> {
    try {
      await withDeadline(probe, probeTimeoutMs)
      lastProbeCode = undefined
      return true
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (code !== lastProbeCode) onProbeFailed?.(err)
      lastProbeCode = code
      return false
    }
  }

  async function probeUntilOpen (): Promise<void> {
    // stop() may come during any await
    for (;;) {
      await sleep(probeEveryMs, undefined, { ref: false })
      if (stopped || closedAt === undefined) return
      if (!await answers()) continue
      const downMs = Date.now() - closedAt
      closedAt = undefined
      onOpened?.(downMs)
      return
    }
  }

  /** A connection attempt failed: close if the probe fails too. */
  async function check (err: unknown): Promise<void> {
    if (closedAt !== undefined || checking || stopped) return
    checking = true
    try {
      if (await answers() || stopped) return
      closedAt = Date.now()
      // Probing first: the report must not be able to keep the gate closed
      probeUntilOpen().catch(() => {})
      onClosed?.(err)
    } finally {
      checking = false
    }
  }

  return {
    async run<T> (work: () => Promise<T>): Promise<T> {
      if (closedAt !== undefined) throw new Errors.DatabaseUnavailable()
      try {
        return await work()
      } catch (err) {
        if (isConnectFailure(err)) check(err).catch(() => {})
        throw err
      }
    },
    get closed () { return closedAt !== undefined },
    stop () { stopped = true }
  }
}

/** `api` with every method run through the gate. */
export function gated<T extends object> (api: T, gate: DbGate): T {
  const out: Record<string, unknown> = {}
  for (const [name, fn] of Object.entries(api)) {
    out[name] = typeof fn === 'function'
      ? async (...args: unknown[]) => await gate.run(async () => await (fn as (...a: unknown[]) => Promise<unknown>)(...args))
      : fn
  }
  return out as T
}
