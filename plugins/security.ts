// CORS for the site and app origins, helmet headers, and per-client rate limiting keyed on
// the IP Heroku's router saw (request.ip with trustProxy = 1 hop, the rightmost
// X-Forwarded-For entry; the leftmost ones are client-controlled).
// @see https://devcenter.heroku.com/articles/http-routing#heroku-headers
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import helmet from 'helmet'
import rateLimit from '@fastify/rate-limit'
import { corsOrigins } from '../lib/config.ts'

export default fp(async (fastify) => {
  const { config } = fastify
  const origins = corsOrigins(config)

  await fastify.register(cors, {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'if-none-match', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'etag', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
    // Bearer tokens, not cookies: no credentialed CORS needed
    credentials: false,
    maxAge: 600
  })

  // JSON API: nothing may be framed, sniffed or scripted from our origin. helmet itself, built
  // once: @fastify/helmet 13 rebuilds the helmet middleware (parsing the CSP) on every request,
  // which cost ~3 % of CPU on the hot path. Headers go on the raw response, so a route that
  // sets its own (the /docs and /dev pages' CSP) still wins when Fastify writes the head.
  const securityHeaders = helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' }
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    securityHeaders(request.raw, reply.raw, (err?: unknown) => { done(err as Error | undefined) })
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
}, { name: 'security', dependencies: ['config'] })
