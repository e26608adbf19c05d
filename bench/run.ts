// npm run bench [-- --quick] [-- --skip-build]
// Builds once, starts the embedded services (Postgres, s3rver, local RS256 issuer), seeds
// images with SQL, then loads a bare Fastify hello world and the BUILT API (each in its own
// process, pinned to CPU 0) from autocannon in a child process pinned to CPU 1, loopback only.
// Reports medians of several rounds, ratios to hello world from the same run, RSS after load,
// a sustained run, p99 at 1k vs 100k images and boot-to-listen time; writes bench/results/.
import { spawn } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile, chmod } from 'node:fs/promises'
import { openSync, closeSync, existsSync } from 'node:fs'
import { tmpdir, cpus, totalmem, hostname } from 'node:os'
import { join } from 'node:path'
import { startServices, createDatabase, type Services } from '../dev/services.ts'
import { freePort } from '../dev/postgres.ts'
import { loadConfig } from '../lib/config.ts'
import { createSql } from '../lib/db.ts'
import { migrate } from '../lib/migrate.ts'
import { ensureBuilt, hasTaskset, procfileNodeArgs, spawnProcess, spawnServer, waitForPort, ROOT, type ServerProcess } from '../test/helpers/spawn-server.ts'
import type { LoadSpec, LoadResult } from './load.ts'
import { recordResponse } from './replay.ts'
import { CLIENT_HEADERS, benchApiEnv, seedBenchGallery } from './setup.ts'

const argv = process.argv.slice(2)
const QUICK = argv.includes('--quick')
const SKIP_BUILD = argv.includes('--skip-build')
const PROFILE = argv.includes('--cpu-prof')
// --cpu-prof: the API's profile lands here when it exits; summarise with node bench/profile.ts <file>
const PROFILE_DIR = join(tmpdir(), 'gallery-bench-profiles')

const P = QUICK
  ? { warmup: 1, duration: 3, rounds: 1, sustained: 12, window: 3, connections: 50, bootRuns: 3, images: 10_000, small: 1_000, large: 100_000, subjects: 1_000 }
  : { warmup: 3, duration: 6, rounds: 5, sustained: 60, window: 10, connections: 50, bootRuns: 7, images: 10_000, small: 1_000, large: 100_000, subjects: 10_000 }

const TARGETS = { health: 0.8, list: 0.5, me: 0.3, sustained: 0.9, p99Growth: 1.2, rssMb: 128, boot: 2 }
const PINNED = hasTaskset()
const SERVER_CPU = '0'
const LOAD_CPU = '1'

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d
/** "min-max" of the rounds' ratios, or the one round's. */
const fmtRange = (xs: number[] = []) => xs.length > 1 ? `${round(Math.min(...xs), 2)}-${round(Math.max(...xs), 2)}` : xs.map(x => String(round(x, 2))).join('')
const mb = (bytes: number) => round(bytes / 1_048_576, 1)
const log = (msg: string) => console.error(`[bench] ${msg}`)

/** CPU steal on the servers' core in every load run (warmups and hello world included). */
const steals: { path: string, pct: number }[] = []

async function load (spec: LoadSpec): Promise<LoadResult> {
  // Unpinned, the servers may run on any core: the machine-wide figure ('cpu ' in /proc/stat)
  const headers = Object.fromEntries(Object.entries({ ...CLIENT_HEADERS, ...spec.headers }).filter(([, v]) => v !== ''))
  const args = [join(ROOT, 'bench/load.ts'), JSON.stringify({ ...spec, headers, stealCpu: PINNED ? SERVER_CPU : '' })]
  const [cmd, full] = PINNED ? ['taskset', ['-c', LOAD_CPU, process.execPath, ...args]] : [process.execPath, args]
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, full, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), (spec.duration + 60) * 1000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`load generator exited ${code}`))
      let result: LoadResult
      try { result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult } catch (err) { return reject(err instanceof Error ? err : new Error(String(err))) }
      if (result.stealPct !== undefined) steals.push({ path: new URL(spec.url).pathname, pct: result.stealPct })
      resolve(result)
    })
  })
}

interface Measured {
  name: string
  path: string
  /** Median req/s of all responses, and of 2xx responses only (what the ratio uses). */
  rps: number
  okRps: number
  p50: number
  p99: number
  /** With fineLatency: the same to the microsecond (autocannon's own are whole milliseconds). */
  p50Fine?: number
  p99Fine?: number
  /** Median over rounds of (this route's 2xx req/s / hello world's req/s in the round just before). */
  ratio?: number
  /** Each round's ratio, in order: their spread shows how much the VM moved under the median. */
  roundRatios?: number[]
  rounds: LoadResult[]
  helloRounds?: LoadResult[]
  /** Share of responses that were 2xx; below 0.99 part of the figure measures an error path. */
  ok2xx: number
  statusCodes: Record<string, number>
  rssMb: number
  note?: string
}

const okShare = (r: LoadResult) => {
  const total = Object.values(r.statusCodes).reduce((a, b) => a + b, 0)
  const ok = Object.entries(r.statusCodes).filter(([c]) => c.startsWith('2')).reduce((a, [, n]) => a + n, 0)
  return total === 0 ? 0 : ok / total
}

/**
 * Rounds of the route, each right after a round of hello world when `hello` is given: the
 * machine is shared and noisy, so each ratio compares two runs seconds apart.
 */
async function measure (name: string, server: ServerProcess, path: string, extra: Partial<LoadSpec> = {}, hello?: ServerProcess): Promise<Measured> {
  const spec: LoadSpec = { url: server.url + path, duration: P.duration, connections: P.connections, ...extra }
  await load({ ...spec, duration: P.warmup })
  const results: LoadResult[] = []
  const helloResults: LoadResult[] = []
  const ratios: number[] = []
  for (let i = 0; i < P.rounds; i++) {
    const h = hello ? await load({ url: hello.url + '/', duration: P.duration, connections: P.connections }) : undefined
    const r = await load(spec)
    results.push(r)
    if (h) { helloResults.push(h); ratios.push((r.rps * okShare(r)) / h.rps) }
  }
  const m = summarise(name, server, path, results)
  if (hello) Object.assign(m, { ratio: round(median(ratios), 3), roundRatios: ratios.map(r => round(r, 3)), helloRounds: helloResults })
  log(`${name.padEnd(30)} ${String(m.rps).padStart(7)} req/s (2xx ${m.okRps})  p50 ${m.p50} ms  p99 ${m.p99} ms  ratio ${m.ratio ?? '-'}  rss ${m.rssMb} MB  ${JSON.stringify(m.statusCodes)}`)
  return m
}

/**
 * The same route on two servers (e.g. 1k and 100k images), rounds alternating A, B, A, B...:
 * measured minutes apart, machine drift on a shared VM would show up as a difference.
 */
async function measurePair (name: string, a: { label: string, server: ServerProcess, path: string }, b: { label: string, server: ServerProcess, path: string }, extra: Partial<LoadSpec> = {}): Promise<[Measured, Measured]> {
  // Timed to the microsecond: these p99s (a few ms) are compared with each other
  const spec = (x: typeof a): LoadSpec => ({ url: x.server.url + x.path, duration: P.duration, connections: P.connections, fineLatency: true, ...extra })
  await load({ ...spec(a), duration: P.warmup })
  await load({ ...spec(b), duration: P.warmup })
  const ra: LoadResult[] = []
  const rb: LoadResult[] = []
  for (let i = 0; i < P.rounds; i++) {
    ra.push(await load(spec(a)))
    rb.push(await load(spec(b)))
  }
  const out: [Measured, Measured] = [summarise(`${name} @${a.label}`, a.server, a.path, ra), summarise(`${name} @${b.label}`, b.server, b.path, rb)]
  for (const m of out) log(`${m.name.padEnd(30)} ${String(m.rps).padStart(7)} req/s (2xx ${m.okRps})  p50 ${m.p50Fine ?? m.p50} ms  p99 ${m.p99Fine ?? m.p99} ms  rss ${m.rssMb} MB  ${JSON.stringify(m.statusCodes)}`)
  return out
}

function summarise (name: string, server: ServerProcess, path: string, results: LoadResult[]): Measured {
  const statusCodes: Record<string, number> = {}
  let total = 0
  let ok = 0
  for (const r of results) {
    for (const [code, n] of Object.entries(r.statusCodes)) {
      statusCodes[code] = (statusCodes[code] ?? 0) + n
      total += n
      if (code.startsWith('2')) ok += n
    }
  }
  return {
    name,
    path,
    rps: round(median(results.map(r => r.rps)), 0),
    okRps: round(median(results.map(r => r.rps * okShare(r))), 0),
    p50: median(results.map(r => r.p50)),
    p99: median(results.map(r => r.p99)),
    ...(results.every(r => r.fine) ? { p50Fine: round(median(results.map(r => r.fine!.p50)), 3), p99Fine: round(median(results.map(r => r.fine!.p99)), 3) } : {}),
    rounds: results,
    ok2xx: total === 0 ? 0 : round(ok / total, 4),
    statusCodes,
    rssMb: mb(server.rssBytes())
  }
}

async function getJson (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) })
  const text = await res.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch {}
  return { status: res.status, body }
}

/** The next-page cursor in a list body, wherever the route puts it (nextCursor, cursor, next, page.next...). */
export function findCursor (body: unknown, depth = 0): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || depth > 2) return undefined
  for (const [k, v] of Object.entries(body)) {
    if (/^(next_?cursor|cursor|next|after)$/i.test(k) && typeof v === 'string' && v.length > 0) return v
  }
  for (const v of Object.values(body)) {
    const found = findCursor(v, depth + 1)
    if (found) return found
  }
  return undefined
}

interface OpenApi { paths?: Record<string, Record<string, { parameters?: { in: string, name: string }[] }>> }

/** Follow list pages until `wantRows` rows are behind us; returns the URL path of that page. */
async function deepPage (base: string, listPath: string, cursorParam: string, wantRows: number): Promise<{ path: string, pages: number, rows: number } | undefined> {
  let path = listPath
  let rows = 0
  let pages = 0
  for (let i = 0; i < 20_000 && rows < wantRows; i++) {
    const { status, body } = await getJson(base + path)
    if (status !== 200) return undefined
    const items = Object.values(body as object).find(Array.isArray) as unknown[] | undefined
    rows += items?.length ?? 0
    const cursor = findCursor(body)
    if (!cursor) return pages > 0 ? { path, pages, rows } : undefined
    path = cursor.startsWith('/') ? cursor : `${listPath}${listPath.includes('?') ? '&' : '?'}${cursorParam}=${encodeURIComponent(cursor)}`
    pages++
  }
  return { path, pages, rows }
}

interface Env { [k: string]: string }

async function prepareDatabase (services: Services, name: string, images: number): Promise<string> {
  const admin = services.postgres!.url()
  await createDatabase(admin, name)
  const url = services.postgres!.url(name)
  const sql = createSql(loadConfig({ ...services.env, DATABASE_URL: url }), { max: 1, statementTimeoutMs: 0 })
  try {
    await migrate(sql)
    const started = performance.now()
    await seedBenchGallery(sql, images)
    log(`seeded ${name}: ${images} public images (+${Math.round(images / 10)} hidden) in ${Math.round(performance.now() - started)} ms`)
  } finally {
    await sql.end({ timeout: 5 })
  }
  return url
}

async function startApi (env: Env, logFile: string, nodeArgs: string[] = procfileNodeArgs()): Promise<ServerProcess> {
  const fd = openSync(logFile, 'a')
  try {
    return await spawnServer({ env, cpus: SERVER_CPU, stdout: fd, nodeArgs })
  } finally {
    closeSync(fd)
  }
}

/** Boot to listen of each server, spawned in turn (not all of one, then the other) so the machine's drift hits them alike. */
async function bootTimes (runs: ((port: number) => ServerProcess)[]): Promise<number[][]> {
  const times = runs.map((): number[] => [])
  for (let i = 0; i < P.bootRuns; i++) {
    for (const [j, run] of runs.entries()) {
      const port = await freePort()
      const started = performance.now()
      const proc = run(port)
      await Promise.race([waitForPort(port, 30_000, 2), proc.exited.then(() => { throw new Error(`exited before listening:\n${proc.logs()}`) })])
      times[j]!.push(round(performance.now() - started, 1))
      await proc.stop(10_000)
    }
  }
  return times
}

interface Row { target: string, goal: string, measured: string, met: boolean | null }

async function main (): Promise<void> {
  const startedAt = new Date()
  if (!SKIP_BUILD) {
    log('npm run build')
    ensureBuilt({ force: true })
  }
  const work = await mkdtemp(join(tmpdir(), 'gallery-bench-'))
  await chmod(work, 0o755)
  const logFile = join(work, 'api.log')
  let services: Services | undefined
  const procs: ServerProcess[] = []
  const spawnTracked = async (fn: () => Promise<ServerProcess>) => { const p = await fn(); procs.push(p); return p }
  // Ctrl-C / SIGTERM: stop the servers and services this run started, then exit
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`)
      Promise.allSettled(procs.map(p => p.stop(5000)))
        .then(() => services?.stop())
        .finally(() => process.exit(130))
    })
  }
  try {
    services = await startServices({ dataDir: join(work, 'services') })
    const [pgVersion] = await (async () => {
      const sql = createSql(loadConfig(services!.env), { max: 1 })
      try { return [(await sql<{ server_version: string }[]>`show server_version`)[0]!.server_version] } finally { await sql.end() }
    })()
    const db10k = await prepareDatabase(services, 'bench_main', P.images)
    const db1k = await prepareDatabase(services, 'bench_small', P.small)
    const db100k = await prepareDatabase(services, 'bench_large', P.large)

    // Many subjects so per-subject presign limits are not what we measure (reported below).
    // Each may start PRESIGN_LIMIT.max (30) a minute per process, and the presign rounds run
    // ~33 s of load within about a minute: at 2,000 subjects a VM serving ~2,400 presigns/s
    // ran into the limit (2026-12-03 14:56: 15,928 x 429 of 75,778), so the row measured the
    // limiter. 10,000 allow 300,000 a minute, ~9,000/s over those 33 s.
    const tokensFile = join(work, 'tokens.txt')
    const tokens = Array.from({ length: P.subjects }, (_, i) => services!.issuer.token({ sub: `auth0|bench-${i}`, permissions: ['write:gallery'] }))
    await writeFile(tokensFile, tokens.join('\n'))
    const meToken = tokens[0]!

    const apiEnv: Env = benchApiEnv(services.env, { DATABASE_URL: db10k })
    const hello = await spawnTracked(() => spawnServer({ script: join(ROOT, 'bench/hello.ts'), env: {}, cpus: SERVER_CPU }))
    const api = await spawnTracked(() => startApi(apiEnv, logFile, PROFILE ? [...procfileNodeArgs(), '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : procfileNodeArgs()))

    const openapi = (await getJson(`${api.url}/openapi.json`)).body as OpenApi
    const paths = new Set(Object.keys(openapi.paths ?? {}))
    log(`routes: ${[...paths].join(' ')}`)
    const listParams = openapi.paths?.['/api/v1/images']?.get?.parameters ?? []
    const cursorParam = listParams.find(p => p.in === 'query' && /cursor|after/i.test(p.name))?.name ?? 'cursor'

    const results: Record<string, Measured | undefined> = {}
    const missing: string[] = []
    results.hello1 = await measure('hello world', hello, '/')
    results.health = await measure('GET /health', api, '/health', {}, hello)
    // Calibration: the same load generator against a server that does no work and replays the
    // hello world's response, then /health's, byte for byte (bench/replay.ts). The first says
    // how close the hello world runs to the load generator's own limit; the ratio of the two
    // is the ceiling the load generator alone puts on /health's ratio (it parses every header)
    // Kept out of `results`: the replayed hello world's rounds are not the hello world's, and
    // the baseline below is the median of every route's hello-world rounds
    const replay = async (name: string, server: ServerProcess, path: string) => {
      const file = join(work, `replay-${name}.http`)
      await writeFile(file, await recordResponse(server.port, path, CLIENT_HEADERS))
      return await spawnTracked(() => spawnServer({ script: join(ROOT, 'bench/replay.ts'), env: { RESPONSE_FILE: file }, cpus: SERVER_CPU, stdout: 'ignore' }))
    }
    const replayHello = await replay('hello', hello, '/')
    const replayHealthServer = await replay('health', api, '/health')
    const replayHealth = await measure('replayed /health response', replayHealthServer, '/', {}, replayHello)
    await replayHello.stop()
    await replayHealthServer.stop()

    let deep: Awaited<ReturnType<typeof deepPage>>
    if (paths.has('/api/v1/images')) {
      results.list = await measure('GET /api/v1/images', api, '/api/v1/images', {}, hello)
      deep = await deepPage(api.url, '/api/v1/images', cursorParam, P.images / 2)
      if (deep) {
        log(`deep cursor: page ${deep.pages + 1}, ${deep.rows} rows in`)
        results.listDeep = await measure('GET /api/v1/images deep', api, deep.path, {}, hello)
        results.listDeep.note = `page ${deep.pages + 1} (${deep.rows} rows in)`
      } else missing.push('images deep cursor (no cursor found in the first page)')
    } else missing.push('GET /api/v1/images')
    if (results.list) results.listIdentity = await measure('GET /api/v1/images identity', api, '/api/v1/images', { headers: { 'accept-encoding': '' } }, hello)
    if ([...paths].some(p => /^\/api\/v1\/collections\/\{[^}]+\}$/.test(p))) results.collection = await measure('GET /api/v1/collections/:slug', api, '/api/v1/collections/bench-1', {}, hello)
    else missing.push('GET /api/v1/collections/:slug')
    if (paths.has('/api/v1/me')) results.me = await measure('GET /api/v1/me', api, '/api/v1/me', { headers: { authorization: `Bearer ${meToken}` } }, hello)
    else missing.push('GET /api/v1/me')
    if (paths.has('/api/v1/uploads')) {
      results.presign = await measure('POST /api/v1/uploads', api, '/api/v1/uploads', { method: 'POST', body: JSON.stringify({ contentType: 'image/png', size: 12345 }), tokensFile }, hello)
      results.presign.note = `${P.subjects} subjects (tokens) rotated per request`
    } else missing.push('POST /api/v1/uploads')
    const helloRps = median(Object.values(results).flatMap(m => [...(m?.helloRounds ?? []), ...(m?.name === 'hello world' ? m.rounds : [])]).map(r => r.rps))
    const helloRss = mb(hello.rssBytes())
    const apiRss = mb(api.rssBytes())

    // Sustained: one long run on the public list (or /health when the list is missing)
    const sustainedPath = results.list ? '/api/v1/images' : '/health'
    // The VM's speed moves by 20 % or more within seconds, so the raw last/first figure can
    // miss on a server that did not slow down at all (or pass on one that did). Paired rounds
    // against the hello world right before and right after the long run cancel the machine's
    // drift: a server that decayed (a leak, a growing heap, a cache that thrashes) stays slow
    // after the run, and its ratio to the hello world drops with it
    const decayBefore = await measure(`${sustainedPath} before sustained`, api, sustainedPath, {}, hello)
    const sustainedRun = await load({ url: api.url + sustainedPath, duration: P.sustained, connections: P.connections })
    // Medians of the first and last P.window seconds of a per-second series (nulls: not read)
    const windows = (xs: (number | null)[]) => {
      const med = (w: (number | null)[]) => { const read = w.filter((x): x is number => x !== null); return read.length > 0 ? median(read) : undefined }
      return xs.length >= P.window ? { first: med(xs.slice(0, P.window)), last: med(xs.slice(-P.window)) } : { first: undefined, last: undefined }
    }
    const secs = sustainedRun.perSecond
    const { first = NaN, last = NaN } = windows(secs)
    const sustainedRss = mb(api.rssBytes())
    const stealSecs = sustainedRun.stealPerSecond ?? []
    const steal = windows(stealSecs)
    const stealFirst = steal.first === undefined ? undefined : round(steal.first, 1)
    const stealLast = steal.last === undefined ? undefined : round(steal.last, 1)
    log(`sustained ${sustainedPath} ${P.sustained}s: first ${P.window}s ${first} req/s, last ${P.window}s ${last} req/s, rss ${sustainedRss} MB, steal ${stealFirst ?? '-'}% -> ${stealLast ?? '-'}%`)
    const decayAfter = await measure(`${sustainedPath} after sustained`, api, sustainedPath, {}, hello)
    await api.stop()
    // The control: the hello world under the same long run, right after. A VM whose speed
    // drifts over a minute (steal or not) shows it here too, and then the API's ratio above
    // measures the machine as much as the server
    const controlRun = await load({ url: hello.url + '/', duration: P.sustained, connections: P.connections })
    const { first: controlFirst = NaN, last: controlLast = NaN } = windows(controlRun.perSecond)
    log(`sustained hello world ${P.sustained}s (control): first ${P.window}s ${controlFirst} req/s, last ${P.window}s ${controlLast} req/s`)

    // The Procfile's --no-allocation-site-pretenuring, checked in every run: the same first page
    // on a process started without it. Its first requests queue on a cold cache fill, V8 sees
    // request objects survive and pretenures them, and that process stays slower for good.
    const procfileArgs = procfileNodeArgs()
    const pretenuring = procfileArgs.filter(a => a !== '--no-allocation-site-pretenuring')
    if (results.list && pretenuring.length < procfileArgs.length) {
      const plain = await spawnTracked(() => startApi(apiEnv, logFile, pretenuring))
      results.listPretenuring = await measure('GET /api/v1/images pretenuring', plain, '/api/v1/images', {}, hello)
      await plain.stop()
    }
    // What the router's access line would cost if the app repeated it: the same first page on a
    // process with LOG_LEVEL=debug, which logs every request (app.ts). No target
    if (results.list) {
      const debug = await spawnTracked(() => startApi({ ...apiEnv, LOG_LEVEL: 'debug' }, logFile))
      results.listDebugLog = await measure('GET /api/v1/images debug log', debug, '/api/v1/images', {}, hello)
      await debug.stop()
    }
    await hello.stop()

    // p99 of the list at 1k vs 100k images: both servers up (on CPU 0; only the one under load
    // works), each page kind measured in alternating rounds, so drift cannot pose as growth
    const scale: Record<string, { first?: Measured, deep?: Measured, writer?: Measured, rssMb?: number }> = {}
    if (results.list) {
      const small = await spawnTracked(() => startApi({ ...apiEnv, DATABASE_URL: db1k }, logFile))
      const large = await spawnTracked(() => startApi({ ...apiEnv, DATABASE_URL: db100k }, logFile))
      // The same depth on both (half the small set): the comparison is about table size, and
      // walking ten times more pages on one server first (10x the cache fills and signed URLs
      // it then holds) changed its later figures by itself. Keyset pages cost the same at any
      // depth; the deep-cursor row above measures 5,000 rows in.
      const depth = P.small / 2
      const dSmall = await deepPage(small.url, '/api/v1/images', cursorParam, depth)
      const dLarge = await deepPage(large.url, '/api/v1/images', cursorParam, depth)
      const A = { label: '1k', server: small }
      const B = { label: '100k', server: large }
      const [firstA, firstB] = await measurePair('list', { ...A, path: '/api/v1/images' }, { ...B, path: '/api/v1/images' })
      const deepPair = dSmall && dLarge ? await measurePair('list deep', { ...A, path: dSmall.path }, { ...B, path: dLarge.path }) : undefined
      if (deepPair && dSmall && dLarge) {
        deepPair[0].note = `page ${dSmall.pages + 1} (${dSmall.rows} rows in)`
        deepPair[1].note = `page ${dLarge.pages + 1} (${dLarge.rows} rows in)`
      }
      // A writer's list skips the public cache: one query per request, the database path itself
      const [writerA, writerB] = await measurePair('writer list', { ...A, path: '/api/v1/images' }, { ...B, path: '/api/v1/images' }, { headers: { authorization: `Bearer ${meToken}` } })
      scale['1k'] = { first: firstA, deep: deepPair?.[0], writer: writerA, rssMb: mb(small.rssBytes()) }
      scale['100k'] = { first: firstB, deep: deepPair?.[1], writer: writerB, rssMb: mb(large.rssBytes()) }
      await small.stop()
      await large.stop()
    }

    // Boot to listen: spawn, poll TCP connect every 2 ms. The API with the Procfile's node flags, as Heroku starts it
    const [bootHello, bootApi] = await bootTimes([
      port => spawnProcess({ script: join(ROOT, 'bench/hello.ts'), env: {}, cpus: SERVER_CPU, port, stdout: 'ignore' }),
      port => spawnProcess({ env: apiEnv, cpus: SERVER_CPU, port, stdout: 'ignore', nodeArgs: procfileNodeArgs() })
    ]) as [number[], number[]]
    log(`boot hello ${median(bootHello)} ms ${JSON.stringify(bootHello)}; api ${median(bootApi)} ms ${JSON.stringify(bootApi)}`)

    // Table
    const rows: Row[] = []
    const ratioRow = (label: string, m: Measured | undefined, goal: number | null) => {
      if (!m) { rows.push({ target: label, goal: goal === null ? '-' : `>= ${goal}x hello`, measured: 'route missing', met: goal === null ? null : false }); return }
      const r = m.ratio ?? m.okRps / helloRps
      const valid = m.ok2xx >= 0.99
      const spread = (m.roundRatios?.length ?? 0) > 1 ? `, rounds ${fmtRange(m.roundRatios)}` : ''
      rows.push({
        target: label,
        goal: goal === null ? '(no target)' : `>= ${goal}x hello`,
        measured: `${round(r, 3)}x (${m.okRps} 2xx req/s${spread}, p50 ${m.p50} ms, p99 ${m.p99} ms${valid ? '' : `; ${round(100 - m.ok2xx * 100, 1)}% non-2xx: ${Object.entries(m.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${n} x ${c}`).join(', ')}`})`,
        met: goal === null ? null : valid && r >= goal
      })
    }
    rows.push({ target: 'hello world (baseline)', goal: '-', measured: `${round(helloRps, 0)} req/s`, met: null })
    ratioRow('GET /health', results.health, TARGETS.health)
    const replayHelloRps = median((replayHealth.helloRounds ?? []).map(r => r.rps))
    const healthHelloRps = median((results.health?.helloRounds ?? []).map(r => r.rps))
    rows.push({ target: 'calibration: a no-work server replaying the hello world\'s response (the load generator\'s own limit)', goal: '(no target)', measured: `${round(replayHelloRps, 0)} req/s; the hello world in the /health rounds just before: ${round(healthHelloRps, 0)} req/s`, met: null })
    ratioRow('calibration: /health\'s response replayed vs the hello world\'s (the load generator\'s ceiling on /health\'s ratio)', replayHealth, null)
    ratioRow('GET /api/v1/images (first page)', results.list, TARGETS.list)
    ratioRow('GET /api/v1/images (deep cursor)', results.listDeep, TARGETS.list)
    if (results.listIdentity) ratioRow('GET /api/v1/images (first page), no Accept-Encoding: the 20 KB identity body', results.listIdentity, null)
    ratioRow('GET /api/v1/collections/:slug', results.collection, TARGETS.list)
    ratioRow('GET /api/v1/me (real RS256 token)', results.me, TARGETS.me)
    ratioRow('POST /api/v1/uploads (presign)', results.presign, null)
    if (results.listDebugLog) ratioRow('GET /api/v1/images (first page) with LOG_LEVEL=debug: a log line for every request', results.listDebugLog, null)
    if (results.listPretenuring) ratioRow('GET /api/v1/images, without the Procfile\'s --no-allocation-site-pretenuring', results.listPretenuring, null)
    const sustainedRatio = first > 0 ? last / first : NaN
    rows.push({ target: `sustained ${P.sustained}s ${sustainedPath}: last/first ${P.window}s`, goal: `>= ${TARGETS.sustained}`, measured: `${round(sustainedRatio)} (${first} -> ${last} req/s${stealFirst !== undefined || stealLast !== undefined ? `; CPU steal ${stealFirst ?? '-'}% -> ${stealLast ?? '-'}%` : ''})`, met: sustainedRatio >= TARGETS.sustained })
    const [ratioBefore, ratioAfter] = [decayBefore.ratio ?? NaN, decayAfter.ratio ?? NaN]
    rows.push({ target: `sustained: ${sustainedPath}'s ratio to hello world just before vs just after the ${P.sustained}s run (the VM's drift cancelled)`, goal: '(no target)', measured: `${round(ratioAfter / ratioBefore)} (${round(ratioBefore, 3)}x -> ${round(ratioAfter, 3)}x; rounds ${fmtRange(decayBefore.roundRatios)} -> ${fmtRange(decayAfter.roundRatios)})`, met: null })
    const controlRatio = controlFirst > 0 ? controlLast / controlFirst : NaN
    rows.push({ target: `sustained ${P.sustained}s hello world (control): last/first ${P.window}s`, goal: '(no target)', measured: `${round(controlRatio)} (${controlFirst} -> ${controlLast} req/s)`, met: null })
    for (const kind of ['first', 'deep', 'writer'] as const) {
      const a = scale['1k']?.[kind]
      const b = scale['100k']?.[kind]
      if (!a || !b) { rows.push({ target: `list p99 @100k vs @1k (${kind === 'writer' ? 'writer, uncached' : `${kind} page`})`, goal: `<= ${TARGETS.p99Growth}x`, measured: 'not measured', met: false }); continue }
      const [pa, pb] = [a.p99Fine ?? a.p99, b.p99Fine ?? b.p99]
      const g = pb / pa
      rows.push({ target: `list p99 @100k vs @1k (${kind === 'writer' ? 'writer, uncached' : `${kind} page`})`, goal: `<= ${TARGETS.p99Growth}x`, measured: `${round(g)}x (${round(pa, 2)} -> ${round(pb, 2)} ms; ${a.okRps} -> ${b.okRps} 2xx req/s)`, met: g <= TARGETS.p99Growth })
    }
    const rssMax = Math.max(apiRss, sustainedRss, ...Object.values(scale).map(s => s.rssMb ?? 0))
    rows.push({ target: 'RSS after load, API process (max)', goal: `<= ${TARGETS.rssMb} MB`, measured: `${rssMax} MB (after routes ${apiRss}, after sustained ${sustainedRss})`, met: rssMax <= TARGETS.rssMb })
    rows.push({ target: 'RSS after load, hello world', goal: `<= ${TARGETS.rssMb} MB`, measured: `${helloRss} MB`, met: helloRss <= TARGETS.rssMb })
    const bootRatio = median(bootApi) / median(bootHello)
    rows.push({ target: 'boot to listen, built server (Procfile web line) vs hello', goal: `<= ${TARGETS.boot}x`, measured: `${round(bootRatio)}x (${median(bootApi)} vs ${median(bootHello)} ms)`, met: bootRatio <= TARGETS.boot })

    const machine = {
      host: hostname(),
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: round(totalmem() / 1024 ** 3, 1),
      node: process.version,
      postgres: pgVersion,
      pinned: PINNED ? `servers on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU} (taskset); Postgres unpinned` : 'no taskset: unpinned'
    }
    const settings = { ...P, quick: QUICK, autocannon: { connections: P.connections, pipelining: 1 }, logLevel: 'info (to a file)', rateLimit: 'RATE_LIMIT_ENABLED=false', presign: `${P.subjects} distinct subjects, token rotated per request` }
    const stealSorted = [...steals].sort((a, b) => b.pct - a.pct)
    const stealSummary = steals.length > 0 ? `median ${round(median(steals.map(s => s.pct)), 1)}%, highest ${stealSorted[0]!.pct}% (${stealSorted[0]!.path}) and ${stealSorted[1]?.pct ?? '-'}%` : undefined
    const md = [
      `# Benchmark ${startedAt.toISOString()}${QUICK ? ' (quick mode: short rounds, not for quoting)' : ''}`,
      '',
      `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, PostgreSQL ${machine.postgres}; ${machine.pinned}.`,
      `Rounds: ${P.rounds} x ${P.duration} s per route after a ${P.warmup} s warmup, each right after a round of the hello world, medians (a ratio is the median of the rounds' ratios; their range in brackets); autocannon ${P.connections} connections, loopback, \`accept-encoding: ${CLIENT_HEADERS['accept-encoding']}\` as browsers send it; API built (dist/), LOG_LEVEL=info to a file (at info the app logs failures, 4xx and slow requests; Heroku's router logs every request), ${P.images} public images in 5 collections.`,
      ...(stealSummary ? [`CPU steal (time the hypervisor gave the ${PINNED ? 'servers\' core' : 'machine\'s cores'} to other guests) over the ${steals.length} load runs: ${stealSummary}.`] : []),
      '',
      '| target | goal | measured | met |',
      '|---|---|---|---|',
      ...rows.map(r => `| ${r.target} | ${r.goal} | ${r.measured} | ${r.met === null ? '-' : r.met ? 'met' : '**not met**'} |`),
      ...(missing.length > 0 ? ['', `Not measured (route not present in this build): ${missing.join(', ')}.`] : []),
      ''
    ].join('\n')
    const json = { startedAt: startedAt.toISOString(), machine, settings, targets: TARGETS, rows, helloRps, results, calibration: { replayHealth }, sustained: { path: sustainedPath, first, last, ratio: sustainedRatio, ratioToHelloBefore: ratioBefore, ratioToHelloAfter: ratioAfter, roundRatiosBefore: decayBefore.roundRatios, roundRatiosAfter: decayAfter.roundRatios, perSecond: secs, stealPerSecond: stealSecs, rssMb: sustainedRss }, sustainedControl: { first: controlFirst, last: controlLast, ratio: controlRatio, perSecond: controlRun.perSecond, stealPerSecond: controlRun.stealPerSecond }, steal: steals, scale, boot: { helloMs: bootHello, apiMs: bootApi }, rss: { helloMb: helloRss, apiMb: apiRss }, missing }
    const dir = join(ROOT, 'bench/results')
    await mkdir(dir, { recursive: true })
    // One file per day; a second run on the same day gets the start time appended
    // instead of replacing a result the README may already quote.
    const day = startedAt.toISOString().slice(0, 10) + (QUICK ? '-quick' : '')
    const name = QUICK || !existsSync(join(dir, `${day}.json`)) ? day : `${day}-${startedAt.toISOString().slice(11, 16).replace(':', '')}`
    await writeFile(join(dir, `${name}.json`), JSON.stringify(json, null, 2) + '\n')
    await writeFile(join(dir, `${name}.md`), md)
    console.log(md)
    log(`wrote bench/results/${name}.json and .md`)
  } finally {
    for (const p of procs) await p.stop(10_000).catch(() => {})
    if (services) await services.stop().catch(() => {})
    await rm(work, { recursive: true, force: true }).catch(() => {})
  }
}

await main()
