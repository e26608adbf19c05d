// Auth0 access-token verification (@fastify/jwt + get-jwks) and permission checks.
// Provides fastify.authenticate (token required), fastify.identify (token optional: public
// routes that show writers more) and fastify.requirePermission('write:gallery').
// Applied per route (onRequest / preHandler), never by matching URL strings.
// @see https://www.rfc-editor.org/rfc/rfc8725 (JWT best current practices)
import fp from 'fastify-plugin'
import jwt, { type TokenOrHeader } from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { issuerOf } from '../lib/config.ts'
import { createKeyStore } from '../lib/jwks.ts'
import { Errors } from '../lib/errors.ts'
import { appendVary } from '../lib/vary.ts'

export interface Principal { sub: string, permissions: string[] }

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    identify: (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void
    requirePermission: (permission: string) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    keyStore: ReturnType<typeof createKeyStore>
  }
  interface FastifyRequest { principal: Principal | null }
}

declare module '@fastify/jwt' {
  interface FastifyJWT { user: { sub: string, permissions?: unknown, scope?: unknown } }
}

export const WRITE_GALLERY = 'write:gallery'

// A kid is an opaque identifier; anything else (paths, quotes, 10 KB) is refused before lookup
const KID = /^[A-Za-z0-9_.-]{1,128}$/
// Headers that would tell a verifier to fetch or trust key material from the token itself
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const

export function permissionsOf (claims: { permissions?: unknown, scope?: unknown }): string[] {
  const set = new Set<string>()
  if (Array.isArray(claims.permissions)) for (const p of claims.permissions) if (typeof p === 'string') set.add(p)
  if (typeof claims.scope === 'string') for (const s of claims.scope.split(' ')) if (s) set.add(s)
  return [...set]
}

export default fp(async (fastify) => {
  const { config } = fastify
  const issuer = issuerOf(config)
  const algorithms = config.AUTH0_ALGORITHMS.split(',')
  const keyStore = createKeyStore({ issuer, timeoutMs: config.JWKS_TIMEOUT_MS })

  await fastify.register(jwt, {
    decode: { complete: true },
    // Runs before any key lookup: alg, header, kid and issuer are checked here so a hostile
    // token never causes a JWKS request.
    secret: async (_request: FastifyRequest, tokenOrHeader: TokenOrHeader) => {
      // decode.complete is set, so this is always { header, payload }
      const { header, payload } = tokenOrHeader as unknown as { header: Record<string, unknown>, payload: Record<string, unknown> | string }
      if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) throw new Errors.Unauthorized('Token algorithm is not accepted')
      for (const h of FORBIDDEN_HEADERS) if (h in header) throw new Errors.Unauthorized(`Token header ${h} is not accepted`)
      if (typeof header.kid !== 'string' || !KID.test(header.kid)) throw new Errors.Unauthorized('Token key id is missing or malformed')
      if (typeof payload !== 'object' || payload === null || payload.iss !== issuer) throw new Errors.Unauthorized('Token issuer is not accepted')
      return await keyStore.getPem(header.kid, header.alg)
    },
    verify: {
      algorithms: algorithms as never,
      allowedIss: issuer,
      allowedAud: config.AUTH0_AUDIENCE,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: 5000,
      // Verified tokens are cached (keyed by a hash of the token) until they expire
      cache: 1000,
      cacheTTL: 600_000
    } as never
  })

  fastify.decorateRequest('principal', null)
  fastify.decorate('keyStore', keyStore)

  async function verify (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    let claims: { sub: string, permissions?: unknown, scope?: unknown }
    try {
      claims = await request.jwtVerify<typeof claims>()
    } catch (err) {
      // @fastify/jwt passes some fast-jwt errors through without a status (a future nbf gives
      // FAST_JWT_INACTIVE): every token problem is a 401, never a 500
      const e = err as { statusCode?: number, code?: string }
      if (e.statusCode === undefined && typeof e.code === 'string' && e.code.startsWith('FAST_JWT_')) {
        throw new Errors.Unauthorized(e.code === 'FAST_JWT_INACTIVE' ? 'Authorization token is not active yet' : 'Authorization token is invalid')
      }
      throw err
    }
    request.principal = { sub: claims.sub, permissions: permissionsOf(claims) }
    // Responses that depend on who asks must never land in a shared cache
    reply.header('cache-control', 'private, no-store')
  }

  fastify.decorate('authenticate', verify)
  // Callback style: this runs on every public read, and most carry no token, so they should
  // not pay for a promise
  fastify.decorate('identify', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // Appended: CORS already set Vary: Origin, and both matter to caches
    reply.header('vary', appendVary(reply.getHeader('vary'), 'Authorization'))
    if (request.headers.authorization === undefined) { done(); return }
    verify(request, reply).then(() => { done() }, done)
  })
  fastify.decorate('requirePermission', (permission: string) => async (request: FastifyRequest) => {
    if (!request.principal) throw new Errors.Unauthorized('Authentication required')
    if (!request.principal.permissions.includes(permission)) throw new Errors.Forbidden(`This action needs the ${permission} permission`)
  })

  fastify.addHook('onReady', async () => {
    // Not awaited: boot must not wait on (or fail because of) the identity provider. And on the
    // next turn: listen() binds the port right after ready, so the first fetch() (Node loads
    // undici for it, ~20 ms) and the request start after the port is bound, not before.
    setImmediate(() => {
      keyStore.prefetch().catch((err: Error) => fastify.log.warn({ err: { message: err.message } }, 'JWKS prefetch failed; keys will be fetched on demand'))
    })
  })
}, { name: 'auth', dependencies: ['config'] })
