// Readiness checks with a short cache and a single flight, so a burst of probes (or an
// attacker) costs the dependencies at most one round of checks per TTL.

export type Check = (signal: AbortSignal) => Promise<unknown>
export interface CheckResult { status: 'ok' | 'fail', latencyMs: number, error?: string }
export interface Readiness { status: 'ok' | 'fail', checkedAt: string, checks: Record<string, CheckResult> }

export function createReadiness (checks: Record<string, Check>, { ttlMs = 3000, timeoutMs = 2000 } = {}) {
  let cached: { at: number, value: Readiness } | undefined
  let inFlight: Promise<Readiness> | undefined

  async function runOne (check: Check): Promise<CheckResult> {
    const started = performance.now()
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      await Promise.race([check(signal), new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error(`timed out after ${timeoutMs} ms`)), { once: true })
      })])
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
