// Ranged reads never buffer more than they asked for: a server that ignores Range answers 200
// with the whole object (up to 5 GB by configuration), and getRange must stop reading there.
// s3rver honours Range, so the ignoring server here is a plain HTTP server.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { createStorage, readAtMost } from '../../lib/storage.ts'
import { testConfig } from '../helpers/services.ts'

test('readAtMost returns the first N bytes, across chunk boundaries, and destroys the stream', async () => {
  let produced = 0
  const source = new Readable({
    highWaterMark: 1000,
    read () {
      produced += 1000
      this.push(Buffer.alloc(1000, produced / 1000))
    }
  })
  const bytes = await readAtMost(source, 2500)
  assert.equal(bytes.length, 2500)
  assert.deepEqual([bytes[0], bytes[999], bytes[1000], bytes[2499]], [1, 1, 2, 3])
  assert.ok(source.destroyed, 'the stream is destroyed once enough was read')
  assert.ok(produced < 10_000, `the source was not drained (${produced} bytes produced)`)

  // A shorter stream gives what there is
  assert.deepEqual(await readAtMost(Readable.from([Buffer.from('abc')]), 10), Buffer.from('abc'))
})

test('getRange against a server that ignores Range reads only the requested bytes and drops the response', async (t) => {
  const total = 64 * 1024 * 1024
  let sent = 0
  let finished = false
  const closed: Promise<unknown>[] = []
  const server = createServer((req, res) => {
    // 200 with the whole object, whatever the Range header says
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(total), etag: '"abc"' })
    closed.push(once(res, 'close'))
    res.on('finish', () => { finished = true })
    const chunk = Buffer.alloc(64 * 1024, 0x42)
    const pump = (): void => {
      while (sent < total && !res.destroyed) {
        sent += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      if (sent >= total) res.end()
    }
    pump()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })

  const config = await testConfig({ S3_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
  const storage = createStorage(config)
  t.after(() => storage.destroy())

  const bytes = await storage.getRange('images/x.png', 0, 99)
  assert.equal(bytes.length, 100)
  assert.ok(bytes.every(b => b === 0x42))
  await closed[0]
  assert.equal(finished, false, 'the response was abandoned, not read to the end')
  assert.ok(sent < total, `the server sent ${sent} of ${total} bytes before the client hung up`)
})
