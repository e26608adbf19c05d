// CORS for the site and app origins, helmet headers, and per-client rate limiting keyed on
// the IP Heroku's router saw (request.ip with trustProxy = 1 hop, the rightmost
// X-Forwarded-For entry; the leftmost ones are client-controlled).
// @see https://devcenter.heroku.com/articles/http-routing#heroku-headers
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import helmet, { type HelmetOptions } from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'
import rateLimit from '@fastify/rate-limit'
import { corsOrigins } from '../lib/config.ts'

export default fp(async (fastify) => {
  const { config } = fastify
  const origins = corsOrigins(config)

  // JSON API: nothing may be framed, sniffed or scripted from our origin. helmet decides the
  // headers; it runs once, here, and every response gets the result. With no per-request
  // directives (no nonces) its output is the same every time, and running its middleware
  // chain per request (13 nested calls, each setting a validated header on the raw response)
  // was the largest single cost of GET /health in the benchmark. The headers go in Fastify's
  // reply headers, so a route that sets its own (the /docs and /dev pages' CSP) still wins.
  // Added before CORS, rate limiting and load shedding (which depends on this plugin) register
  // theirs: those answer from their own onRequest hooks (a preflight's 204, a 429, a shed 503),
  // and hooks run in the order they were added. Fastify's own 503 for a request arriving
  // while the server closes is written before any hook and carries only its fixed JSON body.
  //
  // The set is OWASP's for REST APIs, exactly: CSP default-src/frame-ancestors 'none', HSTS,
  // nosniff, X-Frame-Options DENY. helmet's other headers (the cross-origin opener and resource
  // policies, Referrer-Policy, X-DNS-Prefetch-Control, X-Download-Options, Origin-Agent-Cluster,
  // X-Permitted-Cross-Domain-Policies, X-XSS-Protection) govern documents: what a page may
  // open, embed or leak through its links. A JSON body is none of those, and each header costs
  // every response its bytes and Node's validation: on a bare Fastify route, seven of these
  // headers took ~4 us per request, where a hello world takes ~15 us. The one HTML page,
  // /docs, gets the document headers it needs in plugins/openapi.ts.
  // @see https://cheatsheetseries.owasp.org/cheatsheets/REST_Security_Cheat_Sheet.html#security-headers
  const securityHeaders = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    referrerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false
  })
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(securityHeaders)
    done()
  })

  await fastify.register(cors, {
    origin: origins === '*' ? '*' : origins,
    // Lists given joined: @fastify/cors joins an array again on every response it sets them on
    methods: 'GET, HEAD, POST, PATCH, DELETE',
    allowedHeaders: 'authorization, content-type, if-none-match, x-request-id',
    exposedHeaders: 'x-request-id, retry-after, etag, ratelimit-limit, ratelimit-remaining, ratelimit-reset',
    // Bearer tokens, not cookies: no credentialed CORS needed
    credentials: false,
    maxAge: 600
  })

  if (config.RATE_LIMIT_ENABLED) {
    // ioredis is loaded only when used: it costs ~13 MB of RSS per process otherwise.
    // Commands queue while connecting but give up fast, so a Redis outage costs <= 500 ms
    // and then the request passes (skipOnError) instead of failing
    const redis = config.REDIS_URL
      ? new (await import('ioredis')).Redis(config.REDIS_URL, { connectTimeout: 1000, commandTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: true })
      : undefined
    if (redis) {
      redis.on('error', (err) => fastify.log.warn({ err: { message: err.message } }, 'rate-limit store error'))
      fastify.addHook('onClose', async () => { redis.disconnect() })
    }
    await fastify.register(rateLimit, {
      global: true,
      max: config.RATE_LIMIT_MAX,
      timeWindow: 60_000,
      keyGenerator: (request) => request.ip,
      ...(redis ? { redis, nameSpace: 'gallery-rl:' } : {}),
      // A Redis outage must not take the API down with it
      skipOnError: true,
      enableDraftSpec: true
    })
  }
// After request-id: its hook must come before those that can answer early (a preflight's 204,
// a shed 503), or their responses go out without the request id
}, { name: 'security', dependencies: ['config', 'request-id'] })

/** The headers helmet sets for these options, recorded from one run of its middleware. */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value) },
    removeHeader (name: string) { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  let finished = false
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err))
    finished = true
  })
  // helmet is synchronous unless a directive is computed per request (a nonce), which this
  // API does not use; fail loudly rather than send half the headers if that ever changes
  if (!finished || Object.keys(headers).length === 0) throw new Error('helmet did not set its headers synchronously')
  return headers
}
