// bench/replay.ts, the benchmark's calibration server: it must find every request's end
// however the bytes arrive, and answer each with exactly the recorded response.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { countRequestEnds, recordResponse } from '../../bench/replay.ts'
import { spawnServer, ROOT } from '../helpers/spawn-server.ts'

const req = (path: string) => `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`

test('countRequestEnds counts ends within a chunk and across chunk boundaries, each once', () => {
  const two = Buffer.from(req('/a') + req('/b'))
  assert.equal(countRequestEnds(Buffer.alloc(0), two).ends, 2)
  // Split at every possible byte: the total is always 2
  for (let cut = 1; cut < two.length; cut++) {
    const first = countRequestEnds(Buffer.alloc(0), two.subarray(0, cut))
    const second = countRequestEnds(first.tail, two.subarray(cut))
    assert.equal(first.ends + second.ends, 2, `cut at ${cut}`)
  }
  // One byte at a time
  let tail: Buffer = Buffer.alloc(0)
  let ends = 0
  for (const byte of two) {
    const r = countRequestEnds(tail, Buffer.from([byte]))
    tail = r.tail
    ends += r.ends
  }
  assert.equal(ends, 2)
  // The tail never carries bytes of an end already counted ("\r\n\r\n" then "\r\n" is not a second end)
  const after = countRequestEnds(Buffer.alloc(0), Buffer.from('x\r\n\r\n'))
  assert.equal(countRequestEnds(after.tail, Buffer.from('\r\n')).ends, 0)
})

test('the replay server answers every request, pipelined or split, with the recorded bytes', async (t) => {
  const app = Fastify()
  app.get('/', async () => ({ hello: 'world' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => app.close())
  const port = (app.server.address() as { port: number }).port
  const recorded = await recordResponse(port, '/', { 'accept-encoding': 'gzip' })
  const text = recorded.toString('latin1')
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.ok(text.endsWith('\r\n\r\n{"hello":"world"}'), text)

  const dir = await mkdtemp(join(tmpdir(), 'replay-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'response.http')
  await writeFile(file, recorded)
  const replay = await spawnServer({ script: join(ROOT, 'bench/replay.ts'), env: { RESPONSE_FILE: file } })
  t.after(() => replay.stop())

  // Three requests on one connection: two pipelined in one write, the third split mid-marker
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: replay.port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`got ${Buffer.concat(chunks).length} bytes`)) }, 5000)
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      if (Buffer.concat(chunks).length >= 3 * recorded.length) { clearTimeout(timer); socket.end(); resolve(Buffer.concat(chunks)) }
    })
    socket.once('error', reject)
    socket.write(req('/') + req('/'))
    const third = req('/')
    socket.write(third.slice(0, -3))
    setTimeout(() => socket.write(third.slice(-3)), 50)
  })
  assert.deepEqual(received, Buffer.concat([recorded, recorded, recorded]))
})
