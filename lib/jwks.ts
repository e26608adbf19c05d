// Signing keys of the Auth0 tenant, fetched with get-jwks and kept as ready-to-use PEM strings.
//
// Why a layer over get-jwks (each point is a gap in get-jwks itself, read from its source):
// - it converts JWK -> PEM on every getPublicKey call (~40 us); we convert once per kid, and a
//   stable PEM string also lets @fastify/jwt reuse one fast-jwt verifier (and its token cache);
// - it refetches the JWKS for every unknown kid, so random kids become a fetch flood: we allow
//   a bounded number of refetches per minute;
// - its `timeout` fetch option is ignored by Node's fetch: we bound the wait ourselves;
// - its errors carry no status code: we map them to 401 (bad token) or 503 (IdP outage);
// - it keeps only the key it looked for, so a key removed from the JWKS stays trusted and a
//   budget spent by junk kids would lock out a freshly rotated key: we also refresh the whole
//   set (replacing what we hold) every ttlMs, and at most every fullRefreshCooldownMs when an
//   unknown kid arrives after the per-kid budget is spent;
// - a fresh process's first requests all ask for a kid it does not hold yet: they wait for the
//   fetch already under way (the boot's prefetch, or one lookup per kid) rather than each
//   spending a refetch, which gave the 11th and later of them a 401 for a valid token.
// @see https://auth0.com/docs/secure/tokens/access-tokens/validate-access-tokens
import buildGetJwks from 'get-jwks'
import { createPublicKey } from 'node:crypto'
import { Errors } from './errors.ts'
import { getJson } from './http-get.ts'

export interface KeyStoreOptions {
  issuer: string
  timeoutMs: number
  /** Refetches of the JWKS allowed per minute for kids we have not seen. */
  refetchesPerMinute?: number
  maxKeys?: number
  /** Age after which the whole key set is refreshed in the background. */
  ttlMs?: number
  /** Least time between whole-set refreshes triggered by unknown kids. */
  fullRefreshCooldownMs?: number
}

interface Jwk { kid?: string, kty?: string, alg?: string, use?: string, [k: string]: unknown }

export function jwkToPem (jwk: Jwk): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
}

export function createKeyStore ({ issuer, timeoutMs, refetchesPerMinute = 10, maxKeys = 50, ttlMs = 10 * 60_000, fullRefreshCooldownMs = 15_000 }: KeyStoreOptions) {
  // The issuer allowlist goes to buildGetJwks itself: get-jwks allows every issuer otherwise
  const getJwks = buildGetJwks({ issuersWhitelist: [issuer], providerDiscovery: false, ttl: 10 * 60_000, max: maxKeys })
  let pems = new Map<string, string>()
  let fetchedAt = 0
  let lastFullAttempt = 0
  let refreshing: Promise<number> | undefined
  let tokens = refetchesPerMinute
  let refilledAt = Date.now()
  // Lookups of unknown kids under way, by alg and kid: concurrent requests share one
  const lookups = new Map<string, Promise<string>>()

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

  /** Fetch the whole JWKS and replace the key set (single flight). */
  async function refreshAll (): Promise<number> {
    lastFullAttempt = Date.now()
    refreshing ??= (async () => {
      const res = await getJson(new URL('.well-known/jwks.json', issuer), { signal: AbortSignal.timeout(timeoutMs) })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      const body = (res.body ?? {}) as { keys?: Jwk[] }
      const next = new Map<string, string>()
      for (const jwk of body.keys ?? []) {
        if (typeof jwk.kid !== 'string' || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue
        if (next.size < maxKeys) next.set(jwk.kid, jwkToPem(jwk))
      }
      pems = next
      fetchedAt = Date.now()
      return next.size
    })().finally(() => { refreshing = undefined })
    return await refreshing
  }

  /** One unknown kid: a refetch if the budget allows, else (rarely) a whole-set refresh. */
  async function lookUp (kid: string, alg: string): Promise<string> {
    if (!takeRefetchToken()) {
      // The per-kid budget is spent (maybe by junk kids): a whole-set refresh, rarely, still
      // lets a freshly rotated key in
      if (Date.now() - lastFullAttempt > fullRefreshCooldownMs) {
        await refreshAll().catch(() => { throw new Errors.IdentityProviderUnavailable() })
        const fresh = pems.get(kid)
        if (fresh !== undefined) return fresh
      }
      throw new Errors.Unauthorized('Token signing key is not known')
    }
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
  }

  return {
    /** PEM for a kid; 401 for keys the issuer does not publish, 503 when the issuer is unreachable. */
    async getPem (kid: string, alg: string): Promise<string> {
      // Stale set: answer from it now, refresh behind (drops keys the issuer removed)
      if (Date.now() - fetchedAt > ttlMs && refreshing === undefined && Date.now() - lastFullAttempt > fullRefreshCooldownMs) {
        refreshAll().catch(() => {})
      }
      const known = pems.get(kid)
      if (known !== undefined) return known
      // A whole-set fetch under way may bring it; if that fetch fails, so would a lookup
      if (refreshing !== undefined) {
        await refreshing.catch(() => { throw new Errors.IdentityProviderUnavailable() })
        const fetched = pems.get(kid)
        if (fetched !== undefined) return fetched
      }
      const key = `${alg} ${kid}`
      let lookup = lookups.get(key)
      if (lookup === undefined) {
        lookup = lookUp(kid, alg).finally(() => { lookups.delete(key) })
        lookups.set(key, lookup)
      }
      return await lookup
    },
    /** Warm the keys before the first request; failures are left to readiness to report. */
    prefetch: refreshAll,
    size: () => pems.size
  }
}
