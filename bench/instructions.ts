// npm run bench:instructions [-- --path /health] [-- --warm 60000] [-- --requests 20000] [-- --windows 3] [-- --skip-build]
//   [-- --seed 10000]: seed that many public images first, as `npm run bench` does, so the list
//   routes answer real pages; then a --path may name `{deep}` (the public list's cursor halfway
//   down, on a page boundary, as the bench's deep-cursor row) and `{collection}` (a seeded slug),
//   e.g. --path '/api/v1/images?cursor={deep}' --path '/api/v1/collections/{collection}'
//   [-- --js-names]: run the servers with --perf-basic-prof and name the JIT code in the top
//   lists (callgrind knows it only as an address) from V8's map of it. Off by default: the
//   figures then come from the same processes as earlier runs'. [-- --top 12]: functions listed.
//   [-- --keep DIR]: keep each window's callgrind file in DIR (named by server and path) and,
//   with --js-names, its `callgrind_annotate --tree=caller` listing with the JIT code named
//   (`<name>.<window>.callers.txt`): the top lists give self costs alone, and the costliest
//   entries are V8 builtins (megamorphic property access, string case) that any JS function may
//   call; the listing tells which did, e.g. that a list request's Reply.header calls cost 1.5k each.
// Instructions per request, counted by valgrind's callgrind: the hello world (/) and the BUILT
// API (each --path, /health by default), each server alone under valgrind. Throughput on these
// shared VMs moves 20 % or more within a minute, so it cannot resolve a change of a few percent;
// an instruction count can, whatever else the machine is doing.
//
// What makes the count mean something (each was a wrong figure in an earlier session):
// - `node --single-threaded`: callgrind runs one thread at a time, and V8's background compiler
//   and GC threads would otherwise decide, run to run, what the main thread does.
// - One set of connections from warmup to the end, counters zeroed after --warm responses and
//   dumped after each --requests more, --windows times. Connections that close deoptimise Node's
//   stream code, and the next window then pays for compiling it again.
// - The window's JIT compilation and major (mark-compact) GC are reported apart from the rest.
//   Under valgrind a request takes ~100x longer, and V8 still compiles functions after 100,000
//   requests and runs its time-driven major GC far more often per request than at full speed:
//   with 10,000 requests of warmup and 5,000 measured, TurboFan alone was ~half of the total.
//   At full speed both are a fraction of a percent of the time (node --trace-gc, --trace-opt).
//   So is under-pressure's once-a-second summary of its event-loop-delay histogram (hdr_*,
//   all_values_iter_next), which under valgrind falls on ~100x fewer requests: reported apart
//   too. "Per-request work" is the rest: the figure to compare, from the window with the median.
//   It still moves by a few percent between windows (GC work outside the major GC's own
//   functions, such as the write barrier while marking), which the windows' range shows.
// Not counted: the kernel's share (syscalls, loopback), the same for every server, which is why
// throughput ratios sit closer to 1 than these.
import { spawn, execFileSync } from 'node:child_process'
import { copyFile, mkdtemp, mkdir, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { ensureBuilt, procfileNodeArgs, waitForPort, ROOT, SERVER_JS } from '../test/helpers/spawn-server.ts'
import { CLIENT_HEADERS, benchApiEnv, seedBenchGallery } from './setup.ts'

export interface Breakdown {
  /** All instructions in the window, per request. */
  total: number
  /** V8's optimising compilers (TurboFan, Maglev) per request. */
  compile: number
  /** Major GC (marking, evacuation, sweeping) per request. */
  majorGc: number
  /** Once-a-second samplers (under-pressure's event-loop-delay histogram summary) per request. */
  sampler: number
  /** total - compile - majorGc - sampler. */
  work: number
  /** The functions with the most instructions of `work`, per request. */
  top: { fn: string, perRequest: number }[]
}

const COMPILE = /v8::internal::compiler::|v8::internal::maglev::|turboshaft/
const MAJOR_GC = /MarkCompact|Marking|Evacuat|Sweeper|RememberedSet|RecordMigrated|LiveObjectVisitor|PointersUpdating/
// Node's perf_hooks histograms are HdrHistogram's C code
const SAMPLER = /\bhdr_|all_values_iter_next/

/** Splits `callgrind_annotate --inclusive=no` output (self cost per function) into compile, major GC and the rest. */
export function breakdown (annotated: string, requests: number, topN = 12): Breakdown {
  let total: number | undefined
  const fns: { fn: string, ir: number }[] = []
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.+?)\s*$/.exec(line)
    if (!m) continue
    const ir = Number(m[1]!.replaceAll(',', ''))
    if (m[2] === 'PROGRAM TOTALS') total = ir
    else fns.push({ fn: m[2]!, ir })
  }
  if (total === undefined || total === 0) throw new Error('no PROGRAM TOTALS in callgrind_annotate output')
  // For this program callgrind_annotate lists the frames above the event loop (main,
  // node::Start, ...) with the whole window's cost, as if inclusive: not self costs, left out
  const self = fns.filter(f => f.ir < total! / 2)
  // Each function in the first category it matches
  const category = (fn: string) => COMPILE.test(fn) ? 'compile' : MAJOR_GC.test(fn) ? 'majorGc' : SAMPLER.test(fn) ? 'sampler' : 'work'
  const sum = (c: string) => self.filter(f => category(f.fn) === c).reduce((a, f) => a + f.ir, 0)
  const [compile, majorGc, sampler] = [sum('compile'), sum('majorGc'), sum('sampler')]
  const per = (ir: number) => Math.round(ir / requests)
  const top = self.filter(f => category(f.fn) === 'work').sort((a, b) => b.ir - a.ir).slice(0, topN)
    .map(f => ({ fn: f.fn.replace(/\s*\[[^\]]*\]$/, ''), perRequest: per(f.ir) }))
  return { total: per(total), compile: per(compile), majorGc: per(majorGc), sampler: per(sampler), work: per(total - compile - majorGc - sampler), top }
}

/**
 * Names for JIT code from V8's perf map (`node --perf-basic-prof` writes /tmp/perf-<pid>.map,
 * one `start size name` line, in hex, per piece of code it makes): callgrind lists such code as
 * `???:0x...`, an address inside one of those ranges. Code that V8 later moved or freed can leave
 * an address in two ranges; the last line written wins, as it is the code that was there last.
 */
export function jsNamer (perfMap: string): (fn: string) => string {
  const ranges: { start: bigint, end: bigint, name: string }[] = []
  for (const line of perfMap.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/i.exec(line.trim())
    if (m) ranges.push({ start: BigInt(`0x${m[1]!}`), end: BigInt(`0x${m[1]!}`) + BigInt(`0x${m[2]!}`), name: m[3]! })
  }
  return (fn) => {
    const m = /^\?\?\?:0x([0-9a-f]+)$/i.exec(fn)
    if (!m) return fn
    const address = BigInt(`0x${m[1]!}`)
    const range = ranges.findLast(r => r.start <= address && address < r.end)
    return range ? `${fn} (${range.name})` : fn
  }
}

interface Measurement extends Breakdown { server: string, path: string, requests: number, warm: number, non2xx: number, windows: number[] }

async function measure (opts: { server: string, script: string, nodeArgs: string[], env: Record<string, string>, path: string, warm: number, requests: number, windows: number, dir: string, port: number, jsNames: boolean, top: number, keep?: string }): Promise<Measurement> {
  const out = join(opts.dir, `${opts.server.replace(/\W+/g, '-')}-${opts.port}`)
  const names = opts.jsNames ? ['--perf-basic-prof'] : []
  const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}.%p`, process.execPath, ...opts.nodeArgs, ...names, '--single-threaded', opts.script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  try {
    await Promise.race([waitForPort(opts.port, 300_000, 200), exited.then(() => { throw new Error(`${opts.server} exited under valgrind:\n${stderr}`) })])
    const pid = String(child.pid)
    let seen = 0
    let non2xx = 0
    const run = autocannon({ url: `http://127.0.0.1:${opts.port}${opts.path}`, connections: 10, amount: opts.warm + opts.windows * opts.requests + 100, timeout: 120, headers: CLIENT_HEADERS })
    run.on('response', (_client, status) => {
      seen++
      const counted = seen - opts.warm
      const inWindow = counted > 0 && counted <= opts.windows * opts.requests
      if (inWindow && (status < 200 || status > 299)) non2xx++
      // Synchronous: the load generator pauses while valgrind acts on the request
      if (counted === 0) execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' })
      // A dump zeroes the counters too: each file is one window
      if (inWindow && counted % opts.requests === 0) execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' })
    })
    await run
    const prefix = `${out.slice(opts.dir.length + 1)}.${pid}.`
    const dumps = (await readdir(opts.dir)).filter(f => f.startsWith(prefix)).sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    if (dumps.length !== opts.windows) throw new Error(`expected ${opts.windows} callgrind dumps for ${opts.server}, found ${dumps.length}`)
    const windows = dumps.map(f => breakdown(execFileSync('callgrind_annotate', ['--auto=no', '--inclusive=no', '--threshold=100', join(opts.dir, f)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }), opts.requests, opts.top))
    const median = [...windows].sort((a, b) => a.work - b.work)[Math.floor((windows.length - 1) / 2)]!
    // valgrind runs the program in its own process: node's pid is the child's
    const mapFile = `/tmp/perf-${pid}.map`
    const name = opts.jsNames ? jsNamer(await readFile(mapFile, 'utf8')) : undefined
    if (opts.keep !== undefined) {
      const keptAs = `${opts.server}-${opts.path}`.replace(/\W+/g, '-').replace(/^-|-$/g, '').slice(0, 80) + `-${opts.port}`
      for (const [i, f] of dumps.entries()) {
        await copyFile(join(opts.dir, f), join(opts.keep, `${keptAs}.${i + 1}`))
        if (name === undefined) continue
        const callers = execFileSync('callgrind_annotate', ['--tree=caller', '--inclusive=no', '--threshold=100', join(opts.dir, f)], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
        await writeFile(join(opts.keep, `${keptAs}.${i + 1}.callers.txt`), callers.replace(/\?\?\?:0x[0-9a-f]+/gi, name))
      }
    }
    if (name !== undefined) {
      await rm(mapFile, { force: true })
      median.top = median.top.map(t => ({ ...t, fn: name(t.fn) }))
    }
    return { server: opts.server, path: opts.path, requests: opts.requests, warm: opts.warm, non2xx, ...median, windows: windows.map(w => w.work) }
  } finally {
    child.kill('SIGKILL')
    await exited
  }
}

function option (argv: string[], name: string): string[] {
  const values: string[] = []
  argv.forEach((a, i) => { if (a === name && argv[i + 1] !== undefined) values.push(argv[i + 1]!) })
  return values
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const paths = option(argv, '--path')
  const warm = Number(option(argv, '--warm')[0] ?? 60_000)
  const requests = Number(option(argv, '--requests')[0] ?? 20_000)
  const windows = Number(option(argv, '--windows')[0] ?? 3)
  const seed = Number(option(argv, '--seed')[0] ?? 0)
  const jsNames = argv.includes('--js-names')
  const top = Number(option(argv, '--top')[0] ?? 12)
  const keep = option(argv, '--keep')[0]
  if (keep !== undefined) await mkdir(keep, { recursive: true })
  if (!Number.isInteger(top) || top < 1) throw new Error('--top takes a positive whole number')
  if (![warm, requests, windows].every(n => Number.isInteger(n) && n >= 1)) throw new Error('--warm, --requests and --windows take positive whole numbers')
  if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed takes a whole number of images')
  if (seed === 0 && paths.some(p => /\{(?:deep|collection)\}/.test(p))) throw new Error('{deep} and {collection} name seeded data: add --seed')
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
  } catch {
    console.error('valgrind not found; on Debian: apt-get install -y valgrind')
    process.exit(2)
  }
  if (!argv.includes('--skip-build')) ensureBuilt({ force: true })
  // Loaded here, not at the top: the unit test imports breakdown() without the services
  const { startServices } = await import('../dev/services.ts')
  const { freePort } = await import('../dev/postgres.ts')
  const { loadConfig } = await import('../lib/config.ts')
  const { createSql } = await import('../lib/db.ts')
  const { migrate } = await import('../lib/migrate.ts')
  const { createGallery } = await import('../lib/gallery.ts')
  const { createImageUrls } = await import('../lib/image-urls.ts')
  const { LIMIT_DEFAULT } = await import('../lib/schemas.ts')
  const work = await mkdtemp(join(tmpdir(), 'gallery-instructions-'))
  await chmod(work, 0o755)
  const services = await startServices({ dataDir: join(work, 'services') })
  try {
    const sql = createSql(loadConfig(services.env), { max: 1, statementTimeoutMs: 0 })
    const placeholders: Record<string, string> = {}
    try {
      await migrate(sql)
      if (seed > 0) {
        const seeded = await seedBenchGallery(sql, seed)
        placeholders.collection = seeded.slugs[0]!
        // The next-page cursor of the first page to reach halfway down, as bench/run.ts walks
        // the public list: what a client paging from the start sends. Image URLs play no part
        // in a cursor, so a CDN base stands in for S3.
        const rows = Math.max(LIMIT_DEFAULT, Math.ceil(seed / 2 / LIMIT_DEFAULT) * LIMIT_DEFAULT)
        const gallery = createGallery(sql, createImageUrls({ assetBaseUrl: 'https://cdn.invalid', client: undefined as never, bucket: 'unused' }))
        const { nextCursor } = await gallery.listImages({ writer: false, limit: rows })
        if (nextCursor === null) throw new Error(`the seeded public list ends before ${rows} rows`)
        placeholders.deep = nextCursor
        console.error(`[instructions] seeded ${seed} public images; {deep} = ${rows} rows in, {collection} = ${placeholders.collection}`)
      }
    } finally { await sql.end({ timeout: 5 }) }
    const expand = (path: string) => path.replace(/\{(deep|collection)\}/g, (_, name: string) => encodeURIComponent(placeholders[name]!))
    const startedAt = new Date()
    const rows: Measurement[] = []
    // The hello world as bench/run.ts runs it (no flags); the API with the Procfile's flags
    rows.push(await measure({ server: 'hello world', script: join(ROOT, 'bench/hello.ts'), nodeArgs: [], env: {}, path: '/', warm, requests, windows, dir: work, port: await freePort(), jsNames, top, keep }))
    const apiEnv = benchApiEnv(services.env)
    for (const path of paths.length ? paths : ['/health']) {
      rows.push(await measure({ server: 'API', script: SERVER_JS, nodeArgs: procfileNodeArgs(), env: apiEnv, path: expand(path), warm, requests, windows, dir: work, port: await freePort(), jsNames, top, keep }))
    }
    const hello = rows[0]!
    const k = (n: number) => `${(n / 1000).toFixed(1)}k`
    const md = [
      `# Instructions per request, ${startedAt.toISOString()}`,
      '',
      `callgrind, node --single-threaded, 10 connections, ${warm} requests of warmup, then ${windows} windows of ${requests}; each row is the window with the median per-request work.${seed > 0 ? ` Database seeded with ${seed} public images.` : ''}`,
      '',
      '| server | path | per-request work (windows) | ratio to hello world (work) | JIT compile | major GC | samplers | total | non-2xx |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map(r => `| ${r.server} | ${r.path} | ${k(r.work)} (${r.windows.map(k).join(', ')}) | ${(hello.work / r.work).toFixed(3)} | ${k(r.compile)} | ${k(r.majorGc)} | ${k(r.sampler)} | ${k(r.total)} | ${r.non2xx} |`),
      '',
      ...rows.flatMap(r => [`## ${r.server} ${r.path}: top functions of the per-request work`, '', ...r.top.map(t => `- ${k(t.perRequest)} ${t.fn}`), ''])
    ].join('\n')
    console.log(md)
    const dir = join(ROOT, 'bench/results')
    await mkdir(dir, { recursive: true })
    const name = `${startedAt.toISOString().slice(0, 10)}-${startedAt.toISOString().slice(11, 16).replace(':', '')}-instructions`
    await writeFile(join(dir, `${name}.json`), JSON.stringify({ startedAt, warm, requests, windows, seed, node: process.version, rows }, null, 2) + '\n')
    await writeFile(join(dir, `${name}.md`), md + '\n')
    console.error(`[instructions] wrote bench/results/${name}.json and .md`)
  } finally {
    await services.stop().catch(() => {})
    await rm(work, { recursive: true, force: true }).catch(() => {})
  }
}

if (import.meta.main) await main()
