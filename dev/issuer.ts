// A real local token issuer for development and tests: RS256 keys, a JWKS endpoint over HTTP
// on loopback, and token minting. Tests use it to attack the verifier with real tokens; it
// counts requests and can be told to hang, fail, reset connections or stop listening, so tests
// can assert "no JWKS request" and drills can take the identity provider away.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { generateKeyPairSync, createSign, createHmac, randomUUID, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'

/** How requests are answered: normally, never (held open), with a 500, or by resetting the connection. */
export type IssuerMode = 'normal' | 'hang' | 'error' | 'reset'

export interface IssuerKey { kid: string, privateKey: KeyObject, publicKey: KeyObject }

export interface TokenOptions {
  sub?: string
  permissions?: string[]
  scope?: string
  aud?: string | string[]
  iss?: string
  expiresInSeconds?: number
  notBeforeSeconds?: number
  omitExp?: boolean
  header?: Record<string, unknown>
  claims?: Record<string, unknown>
  key?: IssuerKey
}

const b64url = (input: Buffer | string) => Buffer.from(input).toString('base64url')

export function newKey (kid: string = randomUUID()): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, privateKey, publicKey }
}

/** Sign a compact JWS with RS256 (or any header the caller forces, for attack tests). */
export function signRs256 (header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  const signature = createSign('RSA-SHA256').update(input).sign(key)
  return `${input}.${b64url(signature)}`
}

export function signHs256 (header: Record<string, unknown>, payload: Record<string, unknown>, secret: Buffer | string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`
}

export function unsigned (header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.`
}

export interface Issuer {
  url: string
  issuer: string
  audience: string
  port: number
  keys: IssuerKey[]
  /** JWKS requests received, by path */
  requests: string[]
  jwksRequests: () => number
  mode: IssuerMode
  token: (opts?: TokenOptions) => string
  rotate: () => IssuerKey
  /** Stop listening and drop every connection: connections are refused until up(). */
  down: () => Promise<void>
  /** Listen again on the same port after down(). */
  up: () => Promise<void>
  close: () => Promise<void>
}

export async function startIssuer ({ port = 0, host = '127.0.0.1', audience = 'https://gallery-api.local/', keys = [newKey()] }: { port?: number, host?: string, audience?: string, keys?: IssuerKey[] } = {}): Promise<Issuer> {
  const hanging = new Set<ServerResponse>()
  const state: Issuer = {
    url: '',
    issuer: '',
    audience,
    port: 0,
    keys,
    requests: [],
    jwksRequests: () => state.requests.filter(p => p.endsWith('/jwks.json')).length,
    mode: 'normal',
    token: (opts = {}) => {
      const key = opts.key ?? state.keys[0]!
      const now = Math.floor(Date.now() / 1000)
      const payload: Record<string, unknown> = {
        iss: opts.iss ?? state.issuer,
        sub: opts.sub ?? 'auth0|dev-owner',
        aud: opts.aud ?? [state.audience, `${state.issuer}userinfo`],
        iat: now,
        ...(opts.omitExp === true ? {} : { exp: now + (opts.expiresInSeconds ?? 3600) }),
        ...(opts.notBeforeSeconds !== undefined ? { nbf: now + opts.notBeforeSeconds } : {}),
        ...(opts.permissions ? { permissions: opts.permissions } : {}),
        ...(opts.scope !== undefined ? { scope: opts.scope } : {}),
        ...opts.claims
      }
      return signRs256({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...opts.header }, payload, key.privateKey)
    },
    rotate: () => {
      const key = newKey()
      state.keys.unshift(key)
      return key
    },
    down: async () => {
      for (const res of hanging) res.destroy()
      hanging.clear()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
    up: async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(state.port, host, () => { server.off('error', reject); resolve() })
      })
    },
    close: async () => {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      // Already down: close() answers ERR_SERVER_NOT_RUNNING, which is fine here
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }

  const jwks = () => ({
    keys: state.keys.map(k => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: 'RS256', use: 'sig' }))
  })

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    state.requests.push(path)
    if (state.mode === 'hang') { hanging.add(res); return }
    if (state.mode === 'reset') { req.socket.destroy(); return }
    if (state.mode === 'error') { res.writeHead(500).end('error'); return }
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(body))
    }
    if (path === '/.well-known/jwks.json') return send(200, jwks())
    if (path === '/.well-known/openid-configuration') return send(200, { issuer: state.issuer, jwks_uri: `${state.url}.well-known/jwks.json` })
    if (path === '/token' && req.method === 'POST') {
      // Development convenience: a signed owner token, as Auth0 would issue for the API
      return send(200, { access_token: state.token({ permissions: ['write:gallery'] }), token_type: 'Bearer', expires_in: 3600 })
    }
    send(404, { error: 'not found' })
  })
  await new Promise<void>(resolve => server.listen(port, host, () => resolve()))
  const address = server.address() as AddressInfo
  state.port = address.port
  state.url = `http://${host}:${address.port}/`
  state.issuer = state.url
  return state
}
