// The README is the newcomer's contract: keep its commands and configuration table true.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ConfigSchema } from '../../lib/config.ts'
import { ROOT } from '../helpers/spawn.ts'

const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>, engines: { node: string } }

test('the README starts with the two commands, and they exist', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  const commands = firstBlock.split('\n').map(l => l.replace(/#.*$/, '').trim()).filter(Boolean)
  assert.deepEqual(commands, ['npm install && npm run dev', 'npm test'])
  assert.ok(readme.indexOf('## The two commands') < readme.indexOf('## What it does'))
  assert.match(pkg.scripts.dev!, /dev\/start\.ts/)
  assert.match(pkg.scripts.test!, /--test/)
  assert.equal(pkg.engines.node, '24.x')
})

test('the configuration table lists every variable of lib/config.ts, as generated', () => {
  const generated = execFileSync(process.execPath, ['scripts/config-table.ts'], { cwd: ROOT }).toString().trim()
  const section = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)?.[1]
  assert.equal(section, generated, 'README table is stale: run node scripts/config-table.ts')
  for (const key of Object.keys(ConfigSchema.properties)) assert.ok(section.includes(`| \`${key}\` |`), key)
})
