// Provides fastify.sql: one postgres.js pool per process, sized by DATABASE_POOL_MAX, and
// fastify.dbGate, which fails database work fast while Postgres cannot be reached (lib/db-gate.ts).
// Connects lazily, so the server binds $PORT even while Postgres is down (readiness reports it).
import fp from 'fastify-plugin'
import { cancellable, createSql } from '../lib/db.ts'
import { createDbGate, type DbGate } from '../lib/db-gate.ts'
import { briefError } from '../lib/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sql: ReturnType<typeof createSql>
    dbGate: DbGate
  }
}

export default fp(async (fastify) => {
  const sql = createSql(fastify.config)
  // Logged once per outage, not once per refused request
  const dbGate = createDbGate({
    probe: async (signal) => await cancellable(sql`select 1`, signal),
    onClosed: (err) => fastify.log.warn({ err: briefError(err) }, 'database unreachable: refusing database work until it answers'),
    onProbeFailed: (err) => fastify.log.warn({ err: briefError(err) }, 'database probe failed'),
    onOpened: (downMs) => fastify.log.info({ downMs }, 'database reachable again')
  })
  fastify.decorate('sql', sql)
  fastify.decorate('dbGate', dbGate)
  fastify.addHook('onClose', async () => {
    dbGate.stop()
    await sql.end({ timeout: 5 })
  })
}, { name: 'db', dependencies: ['config'] })
