// GET a small JSON document (the issuer's JWKS) with node:http(s) rather than fetch().
//
// Why not fetch: Node's fetch is undici, loaded on first use, with its HTTP parser compiled
// from WebAssembly. The API needs an HTTP client for two GETs of the JWKS (the key set at boot
// and every few minutes, and the readiness check), and loading undici for them cost every web
// process ~3 MB of RSS, idle and after load (the built server, side by side; docs/benchmarks.md).
// node:http is loaded already (the server runs on it) and does this in a few lines: no
// redirects (a JWKS that redirects is an error, as with fetch's redirect: 'error'), a size cap,
// and the caller's AbortSignal for the time budget.
// get-jwks still calls fetch for a kid the set does not hold (a key rotated in between two
// refreshes), which is rare; that process then loads undici.
// (An ES import of node:http would load undici too; the build makes it a CommonJS one,
// scripts/build.mjs.)
import { get as httpGet, type IncomingMessage } from 'node:http'
import { get as httpsGet } from 'node:https'

export class HttpGetError extends Error {
  readonly code: string
  constructor (message: string, code: string) {
    super(message)
    this.code = code
  }
}

/** The response's status, whether it is a 2xx, and with `body` a 2xx's JSON body (at most maxBytes). */
export async function getJson (url: URL, { signal, maxBytes = 1_048_576, body = true }: { signal: AbortSignal, maxBytes?: number, body?: boolean }): Promise<{ status: number, ok: boolean, body: unknown }> {
  const get = url.protocol === 'https:' ? httpsGet : url.protocol === 'http:' ? httpGet : undefined
  if (!get) throw new HttpGetError(`unsupported protocol ${url.protocol}`, 'ERR_UNSUPPORTED_PROTOCOL')
  signal.throwIfAborted()
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get(url, { signal, headers: { accept: 'application/json' } }, resolve).once('error', reject)
  })
  const status = res.statusCode ?? 0
  const ok = status >= 200 && status < 300
  if (!body || !ok) {
    res.resume()
    return { status, ok, body: undefined }
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) {
      res.destroy()
      throw new HttpGetError(`response larger than ${maxBytes} bytes`, 'ERR_RESPONSE_TOO_LARGE')
    }
    chunks.push(chunk)
  }
  try {
    return { status, ok, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }
  } catch {
    throw new HttpGetError('response is not JSON', 'ERR_INVALID_JSON')
  }
}
