// Readiness checks with a short cache and a single flight, so a burst of probes (or an
// attacker) costs the dependencies at most one round of checks per TTL.

export type Check = (signal: AbortSignal) => Promise<unknown>
export interface CheckResult { status: 'ok' | 'fail', latencyMs: number, error?: string }
export interface Readiness { status: 'ok' | 'fail', checkedAt: string, checks: Record<string, CheckResult> }

/**
 * Runs `check` with a deadline: its signal aborts after `timeoutMs`, and the result rejects then
 * ("timed out after N ms", code TIMEOUT) even if the check ignores the signal.
 */
export async function withDeadline (check: Check, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs)
  let onAbort: (() => void) | undefined
  const timedOut = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'TIMEOUT' })) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([check(signal), timedOut])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

export function createReadiness (checks: Record<string, Check>, { ttlMs = 3000, timeoutMs = 2000 } = {}) {
  let cached: { at: number, value: Readiness } | undefined
  let inFlight: Promise<Readiness> | undefined

  async function runOne (check: Check): Promise<CheckResult> {
    const started = performance.now()
    try {
      await withDeadline(check, timeoutMs)
      return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
    } catch (err) {
      // Name the failure class only: driver messages can carry hostnames or credentials
      const e = err as { code?: string, name?: string, message?: string }
      const error = e.message?.startsWith('timed out') === true ? e.message : (e.code ?? e.name ?? 'error')
      return { status: 'fail', latencyMs: Math.round(performance.now() - started), error }
    }
  }

  async function runAll (): Promise<Readiness> {
    const names = Object.keys(checks)
    const results = await Promise.all(names.map(name => runOne(checks[name]!)))
    const value: Readiness = {
      status: results.every(r => r.status === 'ok') ? 'ok' : 'fail',
      checkedAt: new Date().toISOString(),
      checks: Object.fromEntries(names.map((n, i) => [n, results[i]!]))
    }
    cached = { at: Date.now(), value }
    return value
  }

  return {
    async get (): Promise<Readiness> {
      if (cached && Date.now() - cached.at < ttlMs) return cached.value
      inFlight ??= runAll().finally(() => { inFlight = undefined })
      return await inFlight
    }
  }
}
