// lib/request-logger.ts: request.log is made on a request's first log call, and what it writes
// is what a pino child would have written (bindings, route log level).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino, type Logger } from 'pino'
import { lazyChildLogger } from '../../lib/request-logger.ts'
import { build } from '../helpers/build.ts'
import { captureLogs, memoryStream } from '../helpers/logs.ts'

function memoryLogger (level: string) {
  const { lines, stream } = memoryStream()
  const logger = pino({ level, base: undefined, timestamp: false }, stream)
  let children = 0
  // Counts calls on the logger and on its children (they inherit this method), keeping `this`
  const child = logger.child
  logger.child = function (this: Logger, ...args: Parameters<Logger['child']>) { children++; return child.apply(this, args) } as Logger['child']
  return { logger, lines, children: () => children }
}

const make = (parent: Logger, bindings: Record<string, unknown>, options: Record<string, unknown> = {}) =>
  lazyChildLogger.call(undefined as never, parent, bindings, options, undefined as never)

test('no child logger until the request logs; then lines carry its bindings', () => {
  const { logger, lines, children } = memoryLogger('info')
  const log = make(logger, { request_id: 'r-1' })
  assert.equal(log.level, 'info')
  assert.equal((log as unknown as { isLevelEnabled: (l: string) => boolean }).isLevelEnabled('debug'), false)
  log.debug('below the level')
  assert.equal(children(), 0, 'a call below the level makes nothing')
  assert.equal(lines.length, 0)
  log.warn({ x: 1 }, 'first')
  log.info('second')
  assert.equal(children(), 1, 'made once, on the first call that writes')
  assert.deepEqual(lines.map(l => [l.level, l.request_id, l.msg, l.x]), [[40, 'r-1', 'first', 1], [30, 'r-1', 'second', undefined]])
  log.child({ step: 'inner' }).error('nested')
  assert.deepEqual([lines.at(-1)!.request_id, lines.at(-1)!.step, lines.at(-1)!.msg], ['r-1', 'inner', 'nested'])
})

test('a route\'s own log level applies, lower or higher than the app\'s', () => {
  const { logger, lines } = memoryLogger('info')
  const verbose = make(logger, { request_id: 'v' }, { level: 'debug' })
  assert.equal(verbose.level, 'debug')
  verbose.debug('shown')
  const quiet = make(logger, { request_id: 'q' }, { level: 'error' })
  quiet.warn('hidden')
  quiet.error('shown too')
  assert.deepEqual(lines.map(l => [l.request_id, l.msg]), [['v', 'shown'], ['q', 'shown too']])
  quiet.level = 'warn'
  quiet.warn('after a level change')
  assert.equal(lines.at(-1)!.msg, 'after a level change')
})

test('in the app: a handler\'s line carries the request id, and a route logLevel is honoured', async (t) => {
  const { lines, logger } = await captureLogs('info')
  const { app } = await build(t, { LOG_LEVEL: 'info' }, {
    logger,
    extend: (a) => {
      a.get('/test/verbose', { logLevel: 'debug' }, async (request) => { request.log.debug('debug from a verbose route'); return { ok: true } })
      a.get('/test/quiet', { logLevel: 'error' }, async (request) => { request.log.warn('warn from a quiet route'); return { ok: true } })
    }
  })
  const id = 'c0ffee00-0b1e-4c6a-9f3d-2a7b8c9d0e1f'
  assert.equal((await app.inject({ url: '/test/verbose', headers: { 'x-request-id': id } })).statusCode, 200)
  assert.equal((await app.inject('/test/quiet')).statusCode, 200)
  assert.ok(lines.some(l => l.msg === 'debug from a verbose route' && l.request_id === id), JSON.stringify(lines))
  assert.ok(!lines.some(l => l.msg === 'warn from a quiet route'), 'a route at error drops warnings')
})
