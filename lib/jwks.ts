// Signing keys of the Auth0 tenant, fetched with get-jwks and kept as ready-to-use PEM strings.
//
// Why a layer over get-jwks (each point is a gap in get-jwks itself, read from its source):
// - it converts JWK -> PEM on every getPublicKey call (~40 us); we convert once per kid, and a
//   stable PEM string also lets @fastify/jwt reuse one fast-jwt verifier (and its token cache);
// - it refetches the JWKS for every unknown kid, so random kids become a fetch flood: we allow
//   a bounded number of refetches per minute;
// - its `timeout` fetch option is ignored by Node's fetch: we bound the wait ourselves;
// - its errors carry no status code: we map them to 401 (bad token) or 503 (IdP outage).
// @see https://auth0.com/docs/secure/tokens/access-tokens/validate-access-tokens
import buildGetJwks from 'get-jwks'
import { createPublicKey } from 'node:crypto'
import { Errors } from './errors.ts'

export interface KeyStoreOptions {
  issuer: string
  timeoutMs: number
  /** Refetches of the JWKS allowed per minute for kids we have not seen. */
  refetchesPerMinute?: number
  maxKeys?: number
}

interface Jwk { kid?: string, kty?: string, alg?: string, use?: string, [k: string]: unknown }

export function jwkToPem (jwk: Jwk): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
}

export function createKeyStore ({ issuer, timeoutMs, refetchesPerMinute = 10, maxKeys = 50 }: KeyStoreOptions) {
  // The issuer allowlist goes to buildGetJwks itself: get-jwks allows every issuer otherwise
  const getJwks = buildGetJwks({ issuersWhitelist: [issuer], providerDiscovery: false, ttl: 10 * 60_000, max: maxKeys })
  const pems = new Map<string, string>()
  let tokens = refetchesPerMinute
  let refilledAt = Date.now()

  function takeRefetchToken (): boolean {
    const now = Date.now()
    tokens = Math.min(refetchesPerMinute, tokens + ((now - refilledAt) / 60_000) * refetchesPerMinute)
    refilledAt = now
    if (tokens < 1) return false
    tokens -= 1
    return true
  }

  function remember (kid: string, pem: string): void {
    if (pems.size >= maxKeys) pems.delete(pems.keys().next().value!)
    pems.set(kid, pem)
  }

  async function withTimeout<T> (promise: Promise<T>, onTimeout: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { onTimeout(); reject(new Errors.IdentityProviderUnavailable()) }, timeoutMs)
    })
    try {
      return await Promise.race([promise, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    /** PEM for a kid; 401 for keys the issuer does not publish, 503 when the issuer is unreachable. */
    async getPem (kid: string, alg: string): Promise<string> {
      const known = pems.get(kid)
      if (known !== undefined) return known
      if (!takeRefetchToken()) throw new Errors.Unauthorized('Token signing key is not known')
      let jwk: Jwk
      try {
        jwk = await withTimeout(getJwks.getJwk({ domain: issuer, alg, kid }) as Promise<Jwk>, () => {
          // Do not leave a hung fetch cached for the next request to wait on
          getJwks.cache.delete(getJwks.generateCacheKey(alg, kid, issuer))
        })
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === 'JWK_NOT_FOUND' || code === 'DOMAIN_NOT_ALLOWED') throw new Errors.Unauthorized('Token signing key is not known')
        if (code === 'GALLERY_IDP_UNAVAILABLE') throw err
        throw new Errors.IdentityProviderUnavailable()
      }
      const pem = jwkToPem(jwk)
      remember(kid, pem)
      return pem
    },
    /** Warm the keys before the first request; failures are left to readiness to report. */
    async prefetch (): Promise<number> {
      const res = await fetch(new URL('.well-known/jwks.json', issuer), { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      const body = await res.json() as { keys?: Jwk[] }
      let n = 0
      for (const jwk of body.keys ?? []) {
        if (typeof jwk.kid !== 'string' || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue
        remember(jwk.kid, jwkToPem(jwk))
        n++
      }
      return n
    },
    size: () => pems.size
  }
}
