// Provides fastify.sql: one postgres.js pool per process, sized by DATABASE_POOL_MAX.
// Connects lazily, so the server binds $PORT even while Postgres is down (readiness reports it).
import fp from 'fastify-plugin'
import { createSql } from '../lib/db.ts'

declare module 'fastify' {
  interface FastifyInstance { sql: ReturnType<typeof createSql> }
}

export default fp(async (fastify) => {
  const sql = createSql(fastify.config)
  fastify.decorate('sql', sql)
  fastify.addHook('onClose', async () => { await sql.end({ timeout: 5 }) })
}, { name: 'db', dependencies: ['config'] })
