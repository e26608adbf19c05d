// lib/http-get.ts against a real loopback HTTP server: the JWKS client the key store and the
// readiness check use instead of fetch().
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getJson } from '../../lib/http-get.ts'

async function server (t: { after: (fn: () => unknown) => void }) {
  const hits: string[] = []
  const hanging = new Set<ServerResponse>()
  const srv = createServer((req, res) => {
    hits.push(req.url!)
    if (req.url === '/ok') res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[{"kid":"a"}]}')
    else if (req.url === '/missing') res.writeHead(404).end('{"error":"nope"}')
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end()
    else if (req.url === '/big') res.writeHead(200).end(`"${'x'.repeat(4096)}"`)
    else if (req.url === '/html') res.writeHead(200).end('<html>')
    else if (req.url === '/hang') hanging.add(res)
    else res.writeHead(500).end()
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const res of hanging) res.destroy(); srv.closeAllConnections(); srv.close() })
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
  return { url: (path: string) => new URL(path, base), hits }
}

const signal = () => AbortSignal.timeout(5000)

test('a 2xx JSON body is parsed; another status comes back without a body; redirects are not followed', async (t) => {
  const s = await server(t)
  assert.deepEqual(await getJson(s.url('/ok'), { signal: signal() }), { status: 200, ok: true, body: { keys: [{ kid: 'a' }] } })
  assert.deepEqual(await getJson(s.url('/missing'), { signal: signal() }), { status: 404, ok: false, body: undefined })
  assert.deepEqual(await getJson(s.url('/moved'), { signal: signal() }), { status: 302, ok: false, body: undefined })
  assert.deepEqual(s.hits, ['/ok', '/missing', '/moved'], 'the redirect target was never requested')
  assert.deepEqual(await getJson(s.url('/ok'), { signal: signal(), body: false }), { status: 200, ok: true, body: undefined })
})

test('an oversized or non-JSON body and an unsupported scheme are errors with a code', async (t) => {
  const s = await server(t)
  await assert.rejects(getJson(s.url('/big'), { signal: signal(), maxBytes: 1024 }), { code: 'ERR_RESPONSE_TOO_LARGE' })
  await assert.rejects(getJson(s.url('/html'), { signal: signal() }), { code: 'ERR_INVALID_JSON' })
  await assert.rejects(getJson(new URL('ftp://127.0.0.1/keys'), { signal: signal() }), { code: 'ERR_UNSUPPORTED_PROTOCOL' })
})

test('a server that never answers is given up when the signal aborts, and so is an aborted signal', async (t) => {
  const s = await server(t)
  await assert.rejects(getJson(s.url('/hang'), { signal: AbortSignal.timeout(200) }), (err: Error) => err.name === 'AbortError' || err.name === 'TimeoutError')
  await assert.rejects(getJson(s.url('/ok'), { signal: AbortSignal.abort() }), { name: 'AbortError' })
  assert.equal(s.hits.filter(h => h === '/ok').length, 0, 'an already aborted signal sends nothing')
})
