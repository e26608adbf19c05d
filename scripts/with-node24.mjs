// Runs `node <args>` on Node 24 (engines.node). Plain JavaScript so it runs on an older
// machine Node too: when that Node is older than 24 it installs the npm registry's `node@24`
// package into .tools/ once and re-runs the command with it (first on PATH for child processes).
import { spawnSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants } from 'node:os'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const major = Number(process.versions.node.split('.')[0])
let node = process.execPath
let env = process.env

if (major < 24) {
  const bin = join(root, '.tools', 'node_modules', '.bin')
  node = join(bin, 'node')
  if (!existsSync(node)) {
    console.error(`Node ${process.versions.node} is older than 24: installing node@24 into .tools/ (once)...`)
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = spawnSync(npm, ['install', '--no-save', '--no-package-lock', '--prefix', join(root, '.tools'), 'node@24'], { stdio: 'inherit' })
    if (r.status !== 0 || !existsSync(node)) {
      console.error('could not install node@24; install Node 24 and retry')
      process.exit(1)
    }
  }
  env = { ...process.env, PATH: `${bin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}` }
}

const child = spawn(node, args, { stdio: 'inherit', env, cwd: process.cwd() })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => {
  process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1))
})
