// OpenAPI 3.1 generated from the route schemas (/openapi.json) and a docs page (/docs),
// so a mobile developer can generate a client.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

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
    uiConfig: { deepLinking: false }
  })
  fastify.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => fastify.swagger())
}, { name: 'openapi', dependencies: ['security'] })
