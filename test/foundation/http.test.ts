import { test } from 'node:test'
import assert from 'node:assert/strict'
import { build } from '../helpers/build.ts'
import { SLOW_REQUEST_MS, type App } from '../../app.ts'
import { testEnv } from '../helpers/services.ts'
import { captureLogs } from '../helpers/logs.ts'
import { connect, type AddressInfo } from 'node:net'
import { spawn } from 'node:child_process'
import { freePort } from '../../dev/postgres.ts'
import { workSignal } from '../../lib/request-signal.ts'
import { cancellable } from '../../lib/db.ts'

// What genRequestId makes when a request brings no valid X-Request-ID: a random (version 4) UUID
const GENERATED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const extras = (app: App) => {
  app.get('/test/boom', async () => { throw new Error('connect ECONNREFUSED db-internal.example:5432 password=hunter2') })
  app.post('/test/echo', async (request) => ({ size: JSON.stringify(request.body).length }))
  app.get('/test/log', async (request) => { request.log.info('inside handler'); return { ok: true } })
}

test('X-Request-ID: a valid one is echoed and logged on every line; invalid ones are replaced', async (t) => {
  const { lines, logger } = await captureLogs('debug')
  const { app } = await build(t, { LOG_LEVEL: 'debug' }, { logger, extend: extras })
  const valid = 'f4d9c3a2-0b1e-4c6a-9f3d-2a7b8c9d0e1f'
  const res = await app.inject({ url: '/test/log', headers: { 'x-request-id': valid } })
  assert.equal(res.headers['x-request-id'], valid)
  const mine = lines.filter(l => l.request_id === valid)
  assert.ok(mine.some(l => l.msg === 'inside handler'), 'handler log line carries the id')
  const completed = mine.find(l => l.msg === 'request completed')
  assert.ok(completed, 'completion line carries the id')
  assert.deepEqual([completed.level, completed.method, completed.url, completed.statusCode, typeof completed.responseTime, typeof completed.ip], [20, 'GET', '/test/log', 200, 'number', 'string'])

  // The liveness probe logs only when it fails
  const before = lines.length
  assert.equal((await app.inject({ url: '/health', headers: { 'x-request-id': 'a'.repeat(24) } })).statusCode, 200)
  assert.equal(lines.length, before, 'a healthy /health writes no line')
  assert.equal((await app.inject('/test/boom')).statusCode, 500)
  assert.ok(lines.slice(before).some(l => l.url === '/test/boom' && l.statusCode === 500), 'other routes log their failures')

  for (const bad of ['short', 'x'.repeat(10 * 1024), 'has spaces and <script> in it ok', 'abc%0d%0aSet-Cookie:%20x=1-padding']) {
    const r = await app.inject({ url: '/health', headers: { 'x-request-id': bad } })
    const echoed = r.headers['x-request-id']
    assert.equal(typeof echoed, 'string')
    assert.notEqual(echoed, bad)
    assert.match(echoed as string, GENERATED_ID, 'replaced by a generated UUID')
  }
  const none = await app.inject('/health')
  assert.match(none.headers['x-request-id'] as string, GENERATED_ID)
  // Each request its own id
  const ids = await Promise.all(Array.from({ length: 50 }, async () => String((await app.inject('/health')).headers['x-request-id'])))
  assert.equal(new Set(ids).size, 50)
  assert.ok(ids.every(id => GENERATED_ID.test(id)))
})

test('at info the router\'s access log is not repeated: failures, 4xx and slow requests log a line, a quick success does not', async (t) => {
  const { lines, logger } = await captureLogs('info')
  const { app } = await build(t, { LOG_LEVEL: 'info' }, {
    logger,
    extend: (a) => {
      extras(a)
      a.get('/test/slow', async () => { await new Promise(resolve => setTimeout(resolve, SLOW_REQUEST_MS + 50)); return { ok: true } })
    }
  })
  const completion = (url: string) => lines.filter(l => l.url === url && (l.msg === 'request completed' || l.msg === 'request errored'))

  assert.equal((await app.inject('/test/log')).statusCode, 200)
  assert.deepEqual(completion('/test/log'), [], 'a quick 200 writes no completion line at info')
  assert.ok(lines.some(l => l.msg === 'inside handler' && typeof l.request_id === 'string'), 'what a handler logs is still written, with the id')

  assert.equal((await app.inject('/test/nothing-here')).statusCode, 404)
  const refused = completion('/test/nothing-here')
  assert.equal(refused.length, 1, 'a 4xx writes one line')
  assert.deepEqual([refused[0]!.level, refused[0]!.statusCode, typeof refused[0]!.request_id], [30, 404, 'string'])

  assert.equal((await app.inject('/test/boom')).statusCode, 500)
  const failed = completion('/test/boom')
  assert.ok(failed.some(l => l.statusCode === 500 && typeof l.request_id === 'string'), 'a 500 writes a line')

  assert.equal((await app.inject('/test/slow')).statusCode, 200)
  const slow = completion('/test/slow')
  assert.equal(slow.length, 1, 'a slow 200 writes one line')
  assert.equal(slow[0]!.level, 30)
  assert.ok((slow[0]!.responseTime as number) >= SLOW_REQUEST_MS)
})

test('the Authorization header never reaches the logs', async (t) => {
  const { lines, logger } = await captureLogs()
  const { app } = await build(t, {}, {
    logger,
    extend: (a) => {
      a.get('/test/hdr', async (request) => {
        // What a careless handler might log
        request.log.info({ headers: request.headers }, 'raw headers')
        request.log.info({ req: { headers: request.headers } }, 'nested headers')
        return {}
      })
    }
  })
  await app.inject({ url: '/test/hdr', headers: { authorization: 'Bearer super-secret-token-value', cookie: 'session=cookie-secret' } })
  const logged = lines.filter(l => l.msg === 'raw headers' || l.msg === 'nested headers')
  assert.equal(logged.length, 2)
  assert.ok(JSON.stringify(logged).includes('[redacted]'))
  assert.ok(!JSON.stringify(lines).includes('super-secret-token-value'))
  assert.ok(!JSON.stringify(lines).includes('cookie-secret'))
})

test('errors keep Fastify\'s shape; 5xx bodies carry no internals; 404 has the same shape', async (t) => {
  const { app } = await build(t, {}, { extend: extras })
  const boom = await app.inject('/test/boom')
  assert.equal(boom.statusCode, 500)
  assert.deepEqual(boom.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error', code: 'GALLERY_INTERNAL' })
  assert.ok(!boom.body.includes('hunter2') && !boom.body.includes('db-internal'))
  assert.ok(boom.headers['x-request-id'], 'errors carry the request id too')

  const missing = await app.inject('/api/v1/nothing-here?x=1')
  assert.equal(missing.statusCode, 404)
  assert.match(String(missing.headers['x-request-id']), GENERATED_ID, 'a 404 carries the request id')
  assert.deepEqual(missing.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/api/v1/nothing-here not found', code: 'GALLERY_ROUTE_NOT_FOUND' })
})

test('a 2 MB JSON body is refused with 413 (the API never receives image bytes)', async (t) => {
  const { app } = await build(t, {}, { extend: extras })
  const small = await app.inject({ method: 'POST', url: '/test/echo', payload: { a: 'b' } })
  assert.equal(small.statusCode, 200)
  const big = await app.inject({ method: 'POST', url: '/test/echo', payload: { blob: 'x'.repeat(2 * 1024 * 1024) } })
  assert.equal(big.statusCode, 413)
  assert.equal(big.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
})

test('CORS: an allowed origin gets Access-Control-Allow-Origin, any other origin none', async (t) => {
  const { app } = await build(t, { CORS_ALLOWED_ORIGINS: 'https://gallery.example,https://app.gallery.example' })
  const ok = await app.inject({ method: 'OPTIONS', url: '/api/v1/health', headers: { origin: 'https://gallery.example', 'access-control-request-method': 'GET' } })
  assert.equal(ok.statusCode, 204)
  assert.equal(ok.headers['access-control-allow-origin'], 'https://gallery.example')
  assert.equal(ok.headers['access-control-allow-methods'], 'GET, HEAD, POST, PATCH, DELETE')
  assert.equal(ok.headers['access-control-allow-headers'], 'authorization, content-type, if-none-match, x-request-id')
  assert.equal(ok.headers['access-control-max-age'], '600')
  // The preflight is answered from CORS's hook; the security headers were set before it ran
  assert.equal(ok.headers['x-content-type-options'], 'nosniff')
  assert.equal(ok.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
  // ... and so was the request id: every response carries it, a preflight's 204 too
  const preflightId = 'preflight-0123456789abcdef'
  const echoed = await app.inject({ method: 'OPTIONS', url: '/api/v1/health', headers: { origin: 'https://gallery.example', 'access-control-request-method': 'GET', 'x-request-id': preflightId } })
  assert.equal(echoed.statusCode, 204)
  assert.equal(echoed.headers['x-request-id'], preflightId)
  const get = await app.inject({ url: '/api/v1/health', headers: { origin: 'https://app.gallery.example' } })
  assert.equal(get.headers['access-control-allow-origin'], 'https://app.gallery.example')
  // Browsers let the site's scripts read these from a cross-origin response
  assert.equal(get.headers['access-control-expose-headers'], 'x-request-id, retry-after, etag, ratelimit-limit, ratelimit-remaining, ratelimit-reset')
  assert.match(String(get.headers.vary), /\bOrigin\b/)
  // The liveness probe is for machines: no CORS headers, even for an allowed origin
  const probe = await app.inject({ url: '/health', headers: { origin: 'https://app.gallery.example' } })
  assert.equal(probe.statusCode, 200)
  assert.equal(probe.headers['access-control-allow-origin'], undefined)
  assert.equal(probe.headers['x-content-type-options'], 'nosniff')
  // Everything else carries them, a 404 (any URL) and the OpenAPI document included, so a
  // script on the site can read why a request failed, and a client generator can fetch the spec
  for (const url of ['/api/v1/nothing-here', '/nothing-here', '/health/extra', '/openapi.json', '/docs/']) {
    const res = await app.inject({ url, headers: { origin: 'https://app.gallery.example' } })
    assert.equal(res.statusCode, url.includes('nothing') || url === '/health/extra' ? 404 : 200, url)
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.gallery.example', url)
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
  }
  assert.deepEqual((await app.inject('/nothing-here')).json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/nothing-here not found', code: 'GALLERY_ROUTE_NOT_FOUND' })
  const preflight404 = await app.inject({ method: 'OPTIONS', url: '/nothing-here', headers: { origin: 'https://gallery.example', 'access-control-request-method': 'GET' } })
  assert.equal(preflight404.headers['access-control-allow-origin'], 'https://gallery.example')

  for (const origin of ['https://evil.example', 'https://gallery.example.evil.example', 'null']) {
    const bad = await app.inject({ method: 'OPTIONS', url: '/api/v1/health', headers: { origin, 'access-control-request-method': 'GET' } })
    assert.equal(bad.headers['access-control-allow-origin'], undefined, origin)
    const badGet = await app.inject({ url: '/api/v1/health', headers: { origin } })
    assert.equal(badGet.headers['access-control-allow-origin'], undefined, origin)
  }
})

test('rate limit keys on the rightmost X-Forwarded-For entry (one trusted hop); /health is never limited', async (t) => {
  const { app } = await build(t, { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX: '3' }, { extend: extras })
  const hit = (xff: string, url = '/test/log') => app.inject({ url, headers: { 'x-forwarded-for': xff } })
  for (let i = 0; i < 3; i++) {
    // The client controls the leftmost entries; changing them must not buy a new bucket
    const r = await hit(`6.6.6.${i}, 203.0.113.9`)
    assert.equal(r.statusCode, 200)
  }
  const limited = await hit('1.2.3.4, 203.0.113.9')
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0, 'retry-after set')
  assert.equal(limited.json().statusCode, 429)
  assert.equal(limited.headers['x-content-type-options'], 'nosniff', 'the 429 carries the security headers')
  assert.match(String(limited.headers['x-request-id']), GENERATED_ID, 'the 429 carries the request id')
  const other = await hit('6.6.6.6, 198.51.100.7')
  assert.equal(other.statusCode, 200, 'another client IP has its own bucket')
  for (let i = 0; i < 5; i++) assert.equal((await hit('1.1.1.1, 203.0.113.9', '/health')).statusCode, 200)
})

test('with REDIS_URL the rate-limit bucket is shared by every process', async (t) => {
  // A Redis of its own (Debian's redis-server, on this machine kind), so the test does not
  // depend on a service someone else started or filled
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.after(() => { redis.kill('SIGTERM') })
  await new Promise<void>((resolve, reject) => {
    redis.once('error', (err) => reject(new Error(`redis-server is needed for this test (apt-get install redis-server): ${err.message}`)))
    const deadline = Date.now() + 10_000
    const probe = () => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve() })
      socket.once('error', () => { socket.destroy(); if (Date.now() > deadline) reject(new Error('redis-server did not start')); else setTimeout(probe, 100) })
    }
    probe()
  })
  const env = { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX: '2', REDIS_URL: `redis://127.0.0.1:${port}` }
  const a = await build(t, env, { extend: extras })
  const b = await build(t, env, { extend: extras })
  const ip = '6.6.6.6, 203.0.113.77'
  assert.equal((await a.app.inject({ url: '/test/log', headers: { 'x-forwarded-for': ip } })).statusCode, 200)
  assert.equal((await b.app.inject({ url: '/test/log', headers: { 'x-forwarded-for': ip } })).statusCode, 200)
  assert.equal((await a.app.inject({ url: '/test/log', headers: { 'x-forwarded-for': ip } })).statusCode, 429, 'third request across two processes is limited')
})

// Headers helmet may set, by their names
const SECURITY_HEADERS = /^(content-security-policy|cross-origin-|origin-agent-cluster|referrer-policy|strict-transport-security|x-content-type-options|x-dns-prefetch-control|x-download-options|x-frame-options|x-permitted-cross-domain-policies|x-xss-protection)/

test('security headers are set; the docs and OpenAPI document are served', async (t) => {
  const { app } = await build(t)
  const res = await app.inject('/health')
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'")
  assert.equal(res.headers['x-frame-options'], 'DENY')
  assert.match(String(res.headers['strict-transport-security']), /^max-age=\d+/)
  // OWASP's REST set and nothing else: document-only headers are not sent with JSON
  assert.deepEqual(Object.keys(res.headers).filter(h => SECURITY_HEADERS.test(h)).sort(),
    ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options'])
  // Error responses carry them too
  const missing = await app.inject('/api/v1/nothing-here')
  assert.equal(missing.statusCode, 404)
  assert.equal(missing.headers['x-content-type-options'], 'nosniff')
  assert.equal(missing.headers['x-xss-protection'], undefined)
  assert.equal(missing.headers['x-dns-prefetch-control'], undefined)
  const doc = await app.inject('/openapi.json')
  assert.equal(doc.statusCode, 200)
  const spec = doc.json()
  assert.equal(spec.openapi, '3.1.0')
  assert.ok(spec.paths['/health'] && spec.paths['/api/v1/health'] && spec.paths['/api/v1/me'])
  const docs = await app.inject('/docs/')
  assert.equal(docs.statusCode, 200)
  assert.match(docs.body, /swagger/i)
  // The docs page keeps its own policy (it runs swagger-ui's scripts), not the API's
  assert.match(String(docs.headers['content-security-policy']), /script-src 'self'/)
  // ...and the document headers a page needs
  assert.equal(docs.headers['referrer-policy'], 'no-referrer')
  assert.equal(docs.headers['cross-origin-opener-policy'], 'same-origin')
  assert.equal(docs.headers['x-content-type-options'], 'nosniff')
})

test('load shedding: a saturated event loop answers 503 + Retry-After instead of queueing', async (t) => {
  const { app } = await build(t, { LOAD_SHEDDING_ENABLED: 'true', CORS_ALLOWED_ORIGINS: 'https://app.gallery.example' })
  // Let under-pressure take a calm sample first
  await new Promise(resolve => setTimeout(resolve, 1200))
  assert.equal((await app.inject('/api/v1/me')).statusCode, 401)
  // Overload the event loop for ~3.6 s in 1.2 s slices, as a CPU-bound backlog would: every
  // 1 s sample sees timers running more than a second late
  for (let i = 0; i < 3; i++) {
    const slice = Date.now() + 1200
    while (Date.now() < slice) { /* busy */ }
    await new Promise(resolve => setImmediate(resolve))
  }
  assert.equal(app.overloaded(), true, 'the sample saw the delay')
  const shed = await app.inject('/api/v1/me')
  assert.equal(shed.statusCode, 503)
  assert.equal(shed.json().code, 'GALLERY_OVERLOADED')
  assert.equal(shed.headers['retry-after'], '10')
  assert.equal(shed.headers['x-content-type-options'], 'nosniff', 'the shed 503 carries the security headers')
  assert.match(String(shed.headers['x-request-id']), GENERATED_ID, 'the shed 503 carries the request id')
  assert.equal(shed.headers['x-frame-options'], 'DENY')
  // Probes are never shed: they report the truth
  assert.equal((await app.inject('/health')).statusCode, 200)
  // Everything else is, 404s and the docs included, with the CORS headers a browser needs
  for (const url of ['/nothing-here', '/openapi.json']) {
    const res = await app.inject({ url, headers: { origin: 'https://app.gallery.example' } })
    assert.equal(res.statusCode, 503, url)
    assert.equal(res.json().code, 'GALLERY_OVERLOADED', url)
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.gallery.example', url)
  }
  assert.equal((await app.inject('/api/v1/health')).statusCode, 200)
})

test('work signals survive a request body read over a real socket (Fastify aborts request.signal then)', async (t) => {
  const { app } = await build(t, {}, {
    extend: (a) => {
      a.post('/test/slow-write', async (request, reply) => {
        const signal = workSignal(request, reply.raw)
        const rows = await cancellable(a.sql`select pg_sleep(0.2), 1 as ok`, signal)
        return { ok: rows[0]!.ok }
      })
    }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  for (const body of ['{"a":1}', '']) {
    const res = await fetch(`http://127.0.0.1:${port}/test/slow-write`, { method: 'POST', body, headers: body ? { 'content-type': 'application/json' } : {} })
    assert.equal(res.status, 200, await res.clone().text())
    const json = await res.json() as { ok: number }
    assert.equal(json.ok, 1)
  }
})

test('the request budget: any route that waits gets it (503 when spent, its signal aborted); the liveness probe goes without', async (t) => {
  const budgets = new Map<string, number | undefined>()
  let aborted: unknown
  const { app } = await build(t, { REQUEST_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '900' }, {
    extend: (a) => {
      // Added by a test after the app's own routes: it gets the budget like they do
      a.get('/test/stuck', async (request) => {
        await new Promise<void>(resolve => { request.signal.addEventListener('abort', () => { aborted = request.signal.reason; resolve() }) })
        return { late: true }
      })
      a.addHook('onRequest', (request, _reply, done) => { budgets.set(request.url, request.routeOptions.handlerTimeout); done() })
    }
  })
  const started = Date.now()
  const stuck = await app.inject('/test/stuck')
  assert.equal(stuck.statusCode, 503)
  assert.equal(stuck.json().code, 'FST_ERR_HANDLER_TIMEOUT')
  assert.ok(Date.now() - started < 5000, 'answered when the budget ran out')
  assert.equal((aborted as { code?: string }).code, 'FST_ERR_HANDLER_TIMEOUT')

  assert.equal((await app.inject('/health')).statusCode, 200)
  await app.inject('/api/v1/me')
  await app.inject('/api/v1/images')
  await app.inject('/openapi.json')
  assert.deepEqual(Object.fromEntries(budgets), { '/test/stuck': 1000, '/health': 0, '/api/v1/me': 1000, '/api/v1/images': 1000, '/openapi.json': 1000 })
})

test('the request budget\'s timer list keeper goes with app.close(): a process that builds, serves and closes the app exits by itself', async () => {
  // Anything left referenced after close (the keeper's interval, a socket, a pool) keeps the
  // child alive; the child never calls process.exit
  const script = `
    import { buildApp } from './app.ts'
    import { loadConfig } from './lib/config.ts'
    const app = await buildApp(loadConfig(JSON.parse(process.env.TEST_ENV)), { logger: false })
    await app.ready()
    const res = await app.inject('/api/v1/images')
    await app.close()
    console.log('closed', res.statusCode)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, TEST_ENV: JSON.stringify(await testEnv()) }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const exited = await new Promise<number | null | 'hung'>(resolve => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('hung') }, 15_000)
    child.once('exit', (code) => { clearTimeout(timer); resolve(code) })
  })
  assert.match(out, /closed 200/)
  assert.equal(exited, 0, 'the process exits once the app is closed')
})
