// Provides fastify.storage: the S3 client, bucket and key prefix for this app.
import fp from 'fastify-plugin'
import { createStorage } from '../lib/storage.ts'

declare module 'fastify' {
  interface FastifyInstance { storage: ReturnType<typeof createStorage> }
}

export default fp(async (fastify) => {
  const storage = createStorage(fastify.config)
  fastify.decorate('storage', storage)
  fastify.addHook('onClose', async () => { storage.destroy() })
}, { name: 'storage', dependencies: ['config'] })
