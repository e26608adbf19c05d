// OpenAPI 3.1 generated from the route schemas (/openapi.json) and a docs page (/docs),
// so a mobile developer can generate a client.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

// swagger-ui's page, scripts and logo ship in its package folder. The plugin finds them from
// its own __dirname unless told; told here, so it can be bundled with the rest of the server
// (scripts/build.mjs), where __dirname would be dist/. Loaded by Node instead, its ~60
// CommonJS modules were a sixth of the server's boot. (Given baseDir, it also answers
// /docs/<file> from that folder: swagger-ui's own public assets, nothing else.)
const uiFiles = join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui')), 'static')

// What a page needs beyond the API's headers: no window.opener link to other origins, no
// Referer sent from its links
const DOCUMENT_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'referrer-policy': 'no-referrer' }

export default fp(async (fastify) => {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gallery-api',
        version: '1',
        description: 'Image gallery API: public browsing of collections and images; owner-only writes and direct-to-S3 uploads.'
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Auth0 access token for this API; writes need the write:gallery permission' }
        }
      },
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'me', description: 'The signed-in caller' },
        { name: 'collections', description: 'Collections of images' },
        { name: 'images', description: 'Images' },
        { name: 'uploads', description: 'Direct-to-S3 uploads' }
      ]
    }
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // swagger-ui needs its own scripts and styles; helmet's API policy would block them
    transformStaticCSP: (header) => header,
    uiConfig: { deepLinking: false },
    // The one HTML page: the document headers the JSON API leaves out (plugins/security.ts)
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.headers(DOCUMENT_HEADERS)
        done()
      }
    },
    baseDir: uiFiles,
    logo: { type: 'image/svg+xml', content: readFileSync(join(uiFiles, 'logo.svg')) }
  })
  fastify.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => fastify.swagger())
}, { name: 'openapi', dependencies: ['security'] })
