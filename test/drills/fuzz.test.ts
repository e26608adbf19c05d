// Drill: thousands of generated malformed requests against every route in /openapi.json
// (random JSON, wrong types, huge strings, bad cursors and UUIDs, odd headers and tokens):
// zero 5xx, the process stays up, and its memory does not keep growing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest, Agent } from 'node:http'
import { drillSetup, startBuilt, bearer, writerToken } from '../helpers/drill.ts'
import { unsigned, signHs256 } from '../../dev/issuer.ts'

const TOTAL = 3000
const CONCURRENCY = 16
const RSS_GROWTH_LIMIT = 32 * 1024 * 1024

// Deterministic: a failure names its seed and index, so it can be replayed
function prng (seed: number) {
  let s = seed >>> 0
  return () => { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296 }
}

interface Op { method: string, path: string, params: { name: string, in: string }[], hasBody: boolean, bodyProps: string[] }

test('bad input fuzz: zero 5xx, process alive, memory bounded', { timeout: 240_000 }, async (t) => {
  const { services } = await drillSetup(t)
  const server = await startBuilt(t, { RATE_LIMIT_ENABLED: 'false' })
  const spec = await (await fetch(`${server.url}/openapi.json`)).json() as { paths: Record<string, Record<string, { parameters?: { name: string, in: string }[], requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>> }
  const ops: Op[] = []
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue
      const schema = op.requestBody?.content?.['application/json']?.schema
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], hasBody: op.requestBody !== undefined, bodyProps: Object.keys(schema?.properties ?? {}) })
    }
  }
  assert.ok(ops.length >= 10, `routes found in /openapi.json: ${ops.map(o => `${o.method} ${o.path}`).join(', ')}`)
  // Served but not in the spec: the spec itself and the docs' static files (path traversal)
  ops.push({ method: 'GET', path: '/openapi.json', params: [], hasBody: false, bodyProps: [] })
  ops.push({ method: 'GET', path: '/docs/{file}', params: [], hasBody: false, bodyProps: [] })
  t.diagnostic(`${ops.length} operations`)

  const seed = Number(process.env.FUZZ_SEED ?? 20240601)
  const rnd = prng(seed)
  // Lone surrogates cannot be URI-encoded: send their raw (invalid) UTF-8 percent-escapes instead
  const enc = (x: string) => { try { return encodeURIComponent(x) } catch { return '%ED%A0%80' + encodeURIComponent(x.replace(/[\uD800-\uDFFF]/g, '')) } }
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const writer = writerToken(services)
  const reader = services.issuer.token({ permissions: [] })
  const strings = () => pick([
    '', ' ', 'a'.repeat(1 + Math.floor(rnd() * 5000)), '../../etc/passwd', '%00', '\u0000', '\uFFFF\uD800', '<svg onload=alert(1)>', "' or 1=1 --",
    'null', 'undefined', 'NaN', '-1', '1e309', '0x10', '😀'.repeat(50), 'ZZZZ', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-fffffffffff', crypto.randomUUID(),
    Buffer.from(JSON.stringify({ p: 'x', i: 'nope' })).toString('base64url'), Buffer.from('{"position":1e400,"id":[]}').toString('base64url'), '!!!notbase64!!!', 'a'.repeat(201)
  ])
  const value = (depth = 0): unknown => {
    switch (Math.floor(rnd() * (depth > 3 ? 6 : 9))) {
      case 0: return strings()
      case 1: return Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1)
      case 2: return pick([0, -0, 1.5, 1e308, -1e308, 2 ** 31, 12345])
      case 3: return pick([true, false, null])
      case 4: return pick(['image/png', 'image/svg+xml', 'text/html', 'application/octet-stream', 'IMAGE/PNG ', 'image/png; charset=utf-8'])
      case 5: return pick(['slug', 'my-slug', 'Bad Slug', '-x-', 'a'.repeat(90)])
      case 6: return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1))
      case 7: { const o: Record<string, unknown> = {}; for (let i = 0; i < rnd() * 5; i++) o[pick(['a', '__proto__', 'constructor', 'id', 'key', 'status', String(i)])] = value(depth + 1); return o }
      default: { let o: unknown = 1; for (let i = 0; i < 50; i++) o = [o]; return o }
    }
  }
  const body = (op: Op): { text?: string, type?: string } => {
    const r = rnd()
    if (r < 0.1) return { text: '{"unterminated": ', type: 'application/json' }
    if (r < 0.15) return { text: 'a=1&b=2', type: 'application/x-www-form-urlencoded' }
    if (r < 0.2) return { text: '<xml/>', type: 'text/xml' }
    if (r < 0.25) return { text: JSON.stringify({ x: 'y'.repeat(70 * 1024) }), type: 'application/json' }
    if (r < 0.3) return { text: JSON.stringify(value()), type: 'application/json' }
    const o: Record<string, unknown> = {}
    for (const p of op.bodyProps) if (rnd() < 0.8) o[p] = value()
    if (rnd() < 0.3) o[pick(['id', 'key', 'status', 'created_at', 'extra'])] = value()
    return { text: JSON.stringify(o), type: pick(['application/json', 'application/json; charset=utf-8', 'application/JSON']) }
  }
  const auth = (): Record<string, string> => {
    switch (Math.floor(rnd() * 8)) {
      case 0: case 1: case 2: return bearer(writer)
      case 3: return bearer(reader)
      case 4: return { authorization: pick(['Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', `Bearer ${'x'.repeat(5000)}`, 'Bearer a.b.c', 'bearer ' + writer]) }
      case 5: return bearer(unsigned({ alg: 'none', kid: pick(['../../x', "'", 'k'.repeat(300)]) }, { sub: 'x', permissions: ['write:gallery'] }))
      case 6: return bearer(signHs256({ alg: 'HS256', typ: 'JWT', kid: services.issuer.keys[0]!.kid }, { sub: 'x', iss: services.issuer.issuer, exp: 9e9 }, 'secret'))
      default: return {}
    }
  }

  // One connection per request: a keep-alive socket the server closes after a parse error
  // would otherwise fail the next request client-side (a race that says nothing about the server).
  // keepAlive: false alone does not do it: an agent with maxSockets still sends
  // "Connection: keep-alive" and hands a freed socket to a queued request, so each request
  // also says "Connection: close" (below).
  const agent = new Agent({ keepAlive: false, maxSockets: CONCURRENCY })
  const results: { i: number, op: string, status: number, what: string }[] = []
  const send = async (i: number): Promise<void> => {
    // Every operation in turn, so each gets its share whatever the seed
    const op = ops[i % ops.length]!
    let path = op.path.replace(/\{(\w+)\}/g, () => enc(String(pick([strings(), crypto.randomUUID(), 'drill-1', '1', 'x'.repeat(300)]))))
    const qs = op.params.filter(p => p.in === 'query').filter(() => rnd() < 0.7).map(p => `${enc(p.name)}=${enc(String(rnd() < 0.5 ? strings() : JSON.stringify(value())))}`)
    if (rnd() < 0.2) qs.push(`${pick(['cursor', 'limit', 'unknown', 'a[b]', 'limit[]'])}=${enc(String(value()))}`)
    if (qs.length > 0) path += `?${qs.join('&')}`
    const method = rnd() < 0.9 ? op.method : pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD'])
    const headers: Record<string, string> = { ...auth() }
    if (rnd() < 0.2) headers['x-request-id'] = pick(['short', 'a'.repeat(300), 'valid-request-id-0123456789', 'ümlaut-id-000000000000'])
    if (rnd() < 0.1) headers.accept = pick(['text/html', 'application/xml', '*/*;q=0', ''])
    if (rnd() < 0.1) headers['if-none-match'] = pick(['*', '"x"', 'W/"y", "z"', 'x'.repeat(2000)])
    if (rnd() < 0.1) headers['x-forwarded-for'] = pick(['6.6.6.6, 203.0.113.9', 'garbage', '::1, , ,'])
    if (rnd() < 0.05) headers.origin = pick(['https://evil.example', 'null'])
    const b = (op.hasBody || rnd() < 0.1) && method !== 'GET' && method !== 'HEAD' ? body(op) : {}
    if (b.type) headers['content-type'] = b.type
    // Framed, whatever the method: Node's client sends a DELETE's or an OPTIONS's body with
    // neither Content-Length nor chunked encoding, and the server then rightly reads those bytes
    // as the start of a next request (a 400 for them, and the connection closed)
    if (b.text !== undefined) headers['content-length'] = String(Buffer.byteLength(b.text))
    headers.connection = 'close'
    let failure = ''
    const status = await new Promise<number>((resolve) => {
      const req = httpRequest(`${server.url}${path}`, { method, headers, agent, timeout: 15_000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
      req.on('timeout', () => { req.destroy(); resolve(-1) })
      req.on('error', (err: Error & { code?: string }) => { failure = err.code ?? err.message; resolve(0) })
      if (b.text !== undefined) req.end(b.text); else req.end()
    })
    results.push({ i, op: `${op.method} ${op.path}`, status, what: `${failure} ${method} ${path.slice(0, 200)} ${JSON.stringify(headers).slice(0, 200)} ${(b.text ?? '').slice(0, 200)}` })
  }

  const rssStart = server.rssBytes()
  assert.ok(rssStart > 0, 'the server\'s RSS can be read')
  let rssMid = 0
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < TOTAL) {
      const i = next++
      if (i === TOTAL / 2) rssMid = server.rssBytes()
      await send(i)
    }
  }))
  agent.destroy()
  const rssEnd = server.rssBytes()

  const counts: Record<number, number> = {}
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1
  t.diagnostic(`seed ${seed}: ${JSON.stringify(counts)}; RSS ${Math.round(rssStart / 1048576)} -> ${Math.round(rssMid / 1048576)} -> ${Math.round(rssEnd / 1048576)} MB`)
  const fivexx = results.filter(r => r.status >= 500 || r.status === -1)
  assert.deepEqual(fivexx.slice(0, 5).map(r => `#${r.i} ${r.status} ${r.what}`), [], `${fivexx.length} requests got a 5xx or timed out (seed ${seed})`)
  // Every request gets an answer: none lost to a reset or a dropped connection
  const resets = results.filter(r => r.status === 0)
  assert.deepEqual(resets.slice(0, 3).map(r => `#${r.i} ${r.what.slice(0, 300)}`), [], `${resets.length} requests got no answer (seed ${seed})`)
  assert.ok(server.alive(), 'process alive')
  assert.equal((await fetch(`${server.url}/health`)).status, 200)
  // Each operation was fuzzed, and not only refused at the door: some of its requests got past
  // parsing and validation (an answer other than 400, 401 and 405)
  const perOp: Record<string, Record<number, number>> = {}
  for (const r of results) { const c = (perOp[r.op] ??= {}); c[r.status] = (c[r.status] ?? 0) + 1 }
  t.diagnostic(`per operation: ${JSON.stringify(perOp)}`)
  for (const op of ops) {
    const c = perOp[`${op.method} ${op.path}`] ?? {}
    const total = Object.values(c).reduce((a, n) => a + n, 0)
    assert.ok(total >= Math.floor(TOTAL / ops.length), `${op.method} ${op.path}: ${total} requests`)
    assert.ok(Object.keys(c).some(k => !['400', '401', '405'].includes(k)), `${op.method} ${op.path} never got past validation: ${JSON.stringify(c)}`)
  }
  // The first half warms V8's heap up; after that memory must stay flat
  assert.ok(rssMid > 0 && rssEnd > 0, `RSS read mid-way and at the end: ${rssMid}, ${rssEnd}`)
  assert.ok(rssEnd - rssMid <= RSS_GROWTH_LIMIT, `RSS grew ${Math.round((rssEnd - rssMid) / 1048576)} MB in the second half`)
})
