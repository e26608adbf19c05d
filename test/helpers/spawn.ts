// Run the BUILT server or a compiled command as Heroku would: a child process with an env.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { once } from 'node:events'

export const ROOT = join(import.meta.dirname, '..', '..')

export interface Spawned { child: ChildProcess, output: () => string, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

export function spawnNode (args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return { child, output: () => out, exited }
}

/** Poll until the server answers /health, or fail after `ms`. */
export async function waitForHealth (port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`server on ${port} did not answer /health within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
