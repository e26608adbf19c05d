import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { openSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createLogStream } from '../../app.ts'

test('the log stream (buffered, asynchronous) writes every line whole, multi-byte characters included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'log-stream-'))
  const fd = openSync(join(dir, 'out.log'), 'w')
  try {
    const stream = createLogStream(fd)
    const logger = pino({ timestamp: false, base: undefined }, stream)
    // A burst: lines queue behind the write in flight and go out in batches
    const sent: string[] = []
    for (let i = 0; i < 5000; i++) {
      const msg = `line ${i} ${i % 7 === 0 ? 'café ✓ 画像 🖼️' : 'plain'}`
      sent.push(msg)
      logger.info({ i }, msg)
    }
    await new Promise<void>((resolve, reject) => { stream.flush((err) => { if (err) reject(err); else resolve() }) })
    stream.flushSync()
    const got = (await readFile(join(dir, 'out.log'), 'utf8')).split('\n').filter(Boolean).map(l => JSON.parse(l) as { i: number, msg: string })
    assert.equal(got.length, sent.length)
    assert.deepEqual(got.map(l => l.msg), sent)
    assert.deepEqual(got.map(l => l.i), sent.map((_, i) => i))
  } finally {
    closeSync(fd)
    await rm(dir, { recursive: true, force: true })
  }
})
