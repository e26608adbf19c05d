// Provides fastify.imageUrls: CDN or window-stable presigned GET URLs for image keys, shared by
// every route that returns an image (one per-process URL cache).
import fp from 'fastify-plugin'
import { createImageUrls } from '../lib/image-urls.ts'

declare module 'fastify' {
  interface FastifyInstance { imageUrls: ReturnType<typeof createImageUrls> }
}

export default fp(async (fastify) => {
  const { config, storage } = fastify
  fastify.decorate('imageUrls', createImageUrls({ assetBaseUrl: config.ASSET_BASE_URL, client: storage.client, bucket: storage.bucket }))
}, { name: 'image-urls', dependencies: ['config', 'storage'] })
