// Provides fastify.readiness: Postgres, S3 (HeadBucket) and the issuer's JWKS, each with
// status and latency, cached briefly so probes cannot amplify load on the dependencies.
import fp from 'fastify-plugin'
import { createReadiness } from '../lib/readiness.ts'
import { issuerOf } from '../lib/config.ts'
import { getJson } from '../lib/http-get.ts'

declare module 'fastify' {
  interface FastifyInstance { readiness: ReturnType<typeof createReadiness> }
}

export default fp(async (fastify) => {
  const { sql, storage, config } = fastify
  const jwksUrl = new URL('.well-known/jwks.json', issuerOf(config))
  const readiness = createReadiness({
    postgres: async () => { await sql`select 1` },
    s3: async (signal) => { await storage.headBucket(signal) },
    jwks: async (signal) => {
      const { status, ok } = await getJson(jwksUrl, { signal, body: false })
      if (!ok) throw Object.assign(new Error('jwks'), { code: `HTTP_${status}` })
    }
  }, { ttlMs: 3000, timeoutMs: 2000 })
  fastify.decorate('readiness', readiness)
}, { name: 'health', dependencies: ['config', 'db', 'storage'] })
