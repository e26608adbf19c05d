// Runs the BUILT server (node dist/server.js) as a child process on loopback, the way Heroku
// runs the web dyno, for the failure drills and the benchmark. Builds dist/ once when a source
// file is newer than it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, statSync, readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join, resolve } from 'node:path'
import { freePort } from '../../dev/postgres.ts'
import { procfileNodeArgs as webLineFlags } from '../../scripts/procfile.mjs'

export const ROOT = resolve(import.meta.dirname, '../..')
export const SERVER_JS = join(ROOT, 'dist/server.js')
export const MIGRATE_JS = join(ROOT, 'dist/bin/migrate.js')

/** A file's mtime; for a directory, that of the newest .ts or .sql file below it. */
function newestMtime (path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = 0
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory() || /\.(ts|sql)$/.test(e.name)) newest = Math.max(newest, newestMtime(join(path, e.name)))
  }
  return newest
}

/**
 * `npm run build` when dist/server.js is missing or older than its sources: app.ts, server.ts,
 * lib, plugins, routes, bin, and (the build bundles dependencies) package-lock.json, the build
 * script itself and the Procfile (the build fills the compile cache with its web line's flags).
 */
export function ensureBuilt ({ force = false } = {}): void {
  const sources = ['app.ts', 'server.ts', 'lib', 'plugins', 'routes', 'bin', 'package-lock.json', 'scripts/build.mjs', 'scripts/procfile.mjs', 'Procfile'].map(p => join(ROOT, p)).filter(p => existsSync(p))
  const newest = Math.max(...sources.map(newestMtime))
  if (!force && existsSync(SERVER_JS) && statSync(SERVER_JS).mtimeMs >= newest) return
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000 })
}

/** Node flags of the Procfile's web line (`web: node <flags> dist/server.js`), to run what Heroku runs. */
export function procfileNodeArgs (): string[] {
  return webLineFlags(ROOT)
}

/**
 * One TCP connect: 'connected', the error's code (ECONNREFUSED when nothing listens), or with
 * `timeoutMs` 'timeout' when the handshake does not finish in time.
 */
export async function tcpConnect (port: number, { host = '127.0.0.1', timeoutMs }: { host?: string, timeoutMs?: number } = {}): Promise<string> {
  return await new Promise(resolve => {
    const socket = connect({ host, port })
    if (timeoutMs !== undefined) socket.setTimeout(timeoutMs, () => { socket.destroy(); resolve('timeout') })
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: Error & { code?: string }) => { socket.destroy(); resolve(err.code ?? err.message) })
  })
}

/** Resolves once a TCP connect to 127.0.0.1:port succeeds; polls every `intervalMs`. */
export async function waitForPort (port: number, timeoutMs = 20_000, intervalMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await tcpConnect(port) === 'connected') return
    if (performance.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

export interface ServerProcess {
  port: number
  url: string
  pid: number
  child: ChildProcess
  /** Last lines of stdout/stderr (bounded), for assertions and failure messages. */
  logs: () => string
  exited: Promise<Exit>
  alive: () => boolean
  rssBytes: () => number
  /** SIGTERM, wait for exit (SIGKILL after `timeoutMs`). */
  stop: (timeoutMs?: number) => Promise<Exit>
}

export interface SpawnOptions {
  env: Record<string, string>
  /** Script to run; the built server by default. */
  script?: string
  nodeArgs?: string[]
  /** Pin to these CPUs with taskset when it exists (e.g. '0'). */
  cpus?: string
  /** Where stdout goes: captured (default, bounded) or a file descriptor. */
  stdout?: 'capture' | number | 'ignore'
  port?: number
  waitMs?: number
}

const MAX_LOG_CHARS = 200_000

export function hasTaskset (): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
    return true
  } catch { return false }
}

export function rssOf (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch { return 0 }
}

/** Spawn without waiting for the port (boot-time measurements, processes that must not bind). */
export function spawnProcess (opts: SpawnOptions & { port: number }): ServerProcess {
  const script = opts.script ?? SERVER_JS
  const nodeArgs = [...(opts.nodeArgs ?? []), script]
  const pinned = opts.cpus !== undefined && hasTaskset()
  const [cmd, args] = pinned ? ['taskset', ['-c', opts.cpus!, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs]
  const stdout = opts.stdout ?? 'capture'
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', stdout === 'capture' ? 'pipe' : stdout, 'pipe']
  })
  let log = ''
  const append = (chunk: Buffer) => {
    log += chunk.toString()
    if (log.length > MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS / 2)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  let exit: Exit | undefined
  const exited = new Promise<Exit>(resolve => child.once('exit', (code, signal) => { exit = { code, signal }; resolve(exit) }))
  const pid = child.pid!
  return {
    port: opts.port,
    url: `http://127.0.0.1:${opts.port}`,
    pid,
    child,
    logs: () => log,
    exited,
    alive: () => exit === undefined,
    rssBytes: () => rssOf(pid),
    stop: async (timeoutMs = 30_000) => {
      if (exit) return exit
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      try { return await exited } finally { clearTimeout(timer) }
    }
  }
}

/** Spawn the built server (or `script`) on a free loopback port and wait until it accepts TCP connections. */
export async function spawnServer (opts: SpawnOptions): Promise<ServerProcess> {
  const port = opts.port ?? await freePort()
  const proc = spawnProcess({ ...opts, port })
  try {
    await Promise.race([
      waitForPort(port, opts.waitMs ?? 20_000),
      proc.exited.then(e => { throw new Error(`server exited before listening (${e.signal ?? e.code}):\n${proc.logs()}`) })
    ])
  } catch (err) {
    await proc.stop(2000)
    throw err
  }
  return proc
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function until<T> (fn: () => Promise<T> | T, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await fn()
  while (!value && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, intervalMs))
    value = await fn()
  }
  return value
}
