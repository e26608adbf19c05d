// Development-only routes, registered by dev/start.ts through buildApp's `extend` hook;
// never part of the production build.
//   GET /dev/token  a write:gallery token from the local issuer
//   GET /dev        a page that uploads an image straight to the local S3 (dev/page.html, the
//                   reference client for front-end developers)
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { App } from '../app.ts'
import type { Services } from './services.ts'

const page = readFileSync(join(import.meta.dirname, 'page.html'), 'utf8')

/** CSP source for each inline <script>/<style> block: the page runs nothing else. */
function inlineHashes (html: string, tag: 'script' | 'style'): string[] {
  const blocks = [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
  return blocks.map(m => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`)
}

/**
 * Helmet's API policy (default-src 'none') would block the page; this one allows exactly its
 * inline code (by hash), API calls to this origin, and the bucket (or CDN) for the form POST
 * and the images.
 */
export function devPageCsp (s3Endpoint: string, assetBaseUrl?: string): string {
  const storage = [new URL(s3Endpoint).origin, ...(assetBaseUrl ? [new URL(assetBaseUrl).origin] : [])].join(' ')
  return [
    "default-src 'none'",
    `script-src ${inlineHashes(page, 'script').join(' ')}`,
    `style-src ${inlineHashes(page, 'style').join(' ')}`,
    `connect-src 'self' ${storage}`,
    `img-src ${storage}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}

export function registerDevRoutes (app: App, services: Services): void {
  app.get('/dev/token', { schema: { hide: true } }, async () => ({ access_token: services.issuer.token({ permissions: ['write:gallery'] }) }))

  const csp = devPageCsp(services.s3.endpoint, app.config.ASSET_BASE_URL)
  app.get('/dev', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-security-policy', csp)
    reply.header('cache-control', 'no-store')
    reply.type('text/html; charset=utf-8')
    return page
  })
}
