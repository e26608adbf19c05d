// One error shape everywhere ({ statusCode, error, message, code }), 404s included.
// 5xx bodies never carry internals: the detail goes to the log with the request id.
import fp from 'fastify-plugin'
// An ES import of node:http would load undici; the build makes it a CommonJS one (scripts/build.mjs)
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import postgres from 'postgres'
import { Errors } from '../lib/errors.ts'
import { isDatabaseUnavailable } from '../lib/db.ts'

// Postgres refusing the data itself (SQLSTATE class 22 data exception: a NUL byte, bad
// encoding, a value out of range; 23514 a CHECK constraint) is the client's bad input, not a 500.
// By class, not by err.name: postgres.js derives that name from its class's, which a bundler
// may rename.
function isBadData (err: unknown): boolean {
  return err instanceof postgres.PostgresError && typeof err.code === 'string' && (err.code.startsWith('22') || err.code === '23514')
}

// 5xx codes whose message is ours and safe to show (never a driver or SDK message)
const PUBLIC_5XX = new Set(['FST_ERR_HANDLER_TIMEOUT', 'GALLERY_DATABASE_UNAVAILABLE', 'GALLERY_STORAGE_UNAVAILABLE', 'GALLERY_IDP_UNAVAILABLE'])

export default fp(async (fastify) => {
  fastify.setErrorHandler(async (error: FastifyError, request, reply) => {
    let err: FastifyError = error
    if (isBadData(err)) {
      request.log.info({ sqlstate: err.code }, 'database refused a value')
      err = new Errors.BadRequest('A value in the request is not valid (for example a NUL character or an out-of-range number)')
    } else if (isDatabaseUnavailable(err)) {
      request.log.warn({ err }, 'database unavailable')
      err = new Errors.DatabaseUnavailable()
    }
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (status < 500) {
      reply.code(status)
      return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: err.message, code: err.code }
    }
    if (status === 503) reply.header('retry-after', '5')
    // The database gate's refusals (lib/db-gate.ts) are logged once per outage, not per request
    if (err === error && err.code !== 'GALLERY_DATABASE_UNAVAILABLE') request.log.error({ err }, 'request failed')
    reply.code(status)
    const safe = err.code !== undefined && PUBLIC_5XX.has(err.code)
    return {
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      message: safe ? err.message : STATUS_CODES[status] ?? 'Internal Server Error',
      code: safe ? err.code : 'GALLERY_INTERNAL'
    }
  })

  fastify.setNotFoundHandler(async (request) => {
    throw new Errors.RouteNotFound(request.method, request.url.split('?')[0])
  })
}, { name: 'errors' })
