// Provides fastify.config: the validated configuration handed to buildApp.
import fp from 'fastify-plugin'
import type { Config } from '../lib/config.ts'

declare module 'fastify' {
  interface FastifyInstance { config: Config }
}

export default fp<{ config: Config }>(async (fastify, opts) => {
  fastify.decorate('config', opts.config)
}, { name: 'config' })
