// Load generator child process: runs autocannon (programmatic API) against one loopback URL
// and prints one JSON line with the figures. Spawned by bench/run.ts, pinned to its own core.
// Usage: node bench/load.ts '<json LoadSpec>'
import autocannon from 'autocannon'
import { readFileSync } from 'node:fs'

export interface LoadSpec {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** File with one bearer token per line, rotated per request (many subjects). */
  tokensFile?: string
  duration: number
  connections: number
  pipelining?: number
  /** Also report the share of this CPU's time the hypervisor stole, per second (Linux). */
  stealCpu?: string
  /**
   * Also time each 2xx response to the microsecond: autocannon's own percentiles are whole
   * milliseconds, too coarse for a 5 ms p99. It costs the load generator a callback per
   * response, so it is for runs compared with each other, not with the hello world.
   */
  fineLatency?: boolean
}

export interface LoadResult {
  rps: number
  p50: number
  p90: number
  p99: number
  latencyMean: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  /** Completed requests in each second of the run. */
  perSecond: number[]
  /** With stealCpu: % of that CPU's time stolen by the hypervisor in each second (null: not read), and overall. */
  stealPerSecond?: (number | null)[]
  stealPct?: number
  /** With fineLatency: 2xx latency percentiles in ms, to the microsecond. */
  fine?: { p50: number, p99: number }
}

/** steal and total jiffies of one CPU from /proc/stat; undefined where there is none. */
export function cpuJiffies (cpu: string): { steal: number, total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find(l => l.startsWith(`cpu${cpu} `))
    if (line === undefined) return undefined
    // user nice system idle iowait irq softirq steal (guest time is already counted in user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number)
    return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) }
  } catch {
    return undefined
  }
}

export function stealPercent (from: ReturnType<typeof cpuJiffies>, to: ReturnType<typeof cpuJiffies>): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined
  return Math.round(1000 * (to.steal - from.steal) / (to.total - from.total)) / 10
}

if (import.meta.main) await main()

async function main (): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
  if (typeof spec.url !== 'string' || !spec.url.startsWith('http://127.0.0.1:')) {
    console.error('load.ts only loads 127.0.0.1')
    process.exit(2)
  }
  // Bounded: never run longer than 5 minutes, whatever the caller asked
  const duration = Math.min(Math.max(1, spec.duration), 300)

  const url = new URL(spec.url)
  const tokens = spec.tokensFile ? readFileSync(spec.tokensFile, 'utf8').split('\n').filter(Boolean) : []
  let next = 0
  const request = {
    method: spec.method ?? 'GET',
    path: url.pathname + url.search,
    headers: { ...(spec.body !== undefined ? { 'content-type': 'application/json' } : {}), ...spec.headers },
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    ...(tokens.length > 0
      ? {
          setupRequest: (req: Record<string, unknown> & { headers?: Record<string, string> }) => {
            const token = tokens[next++ % tokens.length]!
            return { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } }
          }
        }
      : {})
  }

  const perSecond: number[] = []
  const instance = autocannon({
    url: url.origin,
    connections: spec.connections,
    pipelining: spec.pipelining ?? 1,
    duration,
    timeout: 30,
    requests: [request as never]
  })
  // A shared VM's neighbours take CPU time from the server's core without our processes seeing
  // it except as lost throughput; sampled each tick so a dip can be matched to it
  const stealPerSecond: (number | null)[] = []
  const steal0 = spec.stealCpu !== undefined ? cpuJiffies(spec.stealCpu) : undefined
  let stealPrev = steal0
  instance.on('tick', ({ counter }: { counter: number }) => {
    perSecond.push(counter)
    if (spec.stealCpu === undefined) return
    const now = cpuJiffies(spec.stealCpu)
    // One entry per tick, read or not, so the seconds line up with perSecond
    stealPerSecond.push(stealPercent(stealPrev, now) ?? null)
    stealPrev = now
  })

  // Each response's time as autocannon measured it (hrtime, fractional ms), 2xx only like its
  // own histogram; the run is at most 300 s, so the array stays bounded
  const times: number[] = []
  if (spec.fineLatency) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime)
    })
  }

  const result = await instance
  times.sort((a, b) => a - b)
  const percentile = (p: number) => Math.round(1000 * times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)]!) / 1000
  const stealAll = spec.stealCpu !== undefined ? stealPercent(steal0, cpuJiffies(spec.stealCpu)) : undefined
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {}) as [string, { count: number }][]) statusCodes[code] = count
  const out: LoadResult = {
    rps: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    latencyMean: result.latency.average,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    // Whole seconds only: autocannon ticks once more as it stops, with the few requests of a
    // partial second (often 0), and that count in the last window read as decay
    perSecond: perSecond.slice(0, duration),
    ...(spec.stealCpu !== undefined ? { stealPerSecond: stealPerSecond.slice(0, duration), stealPct: stealAll } : {}),
    ...(times.length > 0 ? { fine: { p50: percentile(0.5), p99: percentile(0.99) } } : {})
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
