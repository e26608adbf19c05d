// buildApp(config): the one place the Fastify instance is made, for server.ts and the tests alike.
import { pino } from 'pino'
import Fastify, { LogController, type FastifyServerOptions, type FastifyRequest, type FastifyReply } from 'fastify'
import autoload from '@fastify/autoload'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { join } from 'node:path'
import type { Config } from './lib/config.ts'
import { genRequestId } from './lib/request-id.ts'
import { lazyChildLogger } from './lib/request-logger.ts'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { _ } from 'ajv/dist/compile/codegen/index.js'
import ajvStandalone from 'ajv/dist/standalone/index.js'
import fastJsonStringify from 'fast-json-stringify'
import { loadPrecompiled, schemaKey, type SchemaCompiler, type SchemaRecorder } from './lib/precompiled-schemas.ts'

export interface AppOptions {
  /** Override the logger (tests pass a stream or false). */
  logger?: FastifyServerOptions['logger']
  /** Test-only hook to add routes before ready (e.g. a deliberately slow route). */
  extend?: (app: App) => void | Promise<void>
  /** Build time: keep the code generated for every route schema (lib/precompiled-schemas.ts). */
  recordSchemas?: SchemaRecorder
  /** Where to look for precompiled-schemas.cjs; by default beside this file (dist/ when built). */
  precompiledDir?: string
}

// The API never receives image bytes (they go straight to S3), so request bodies stay small.
export const BODY_LIMIT = 64 * 1024

export function loggerOptions (config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    // Fastify's req serializer never logs headers; these cover a handler that logs raw headers.
    // Exact paths, no wildcards: pino applies redaction to every line, and wildcards cost more.
    redact: {
      paths: ['headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      censor: '[redacted]'
    },
    // Asynchronous stdout: lines that arrive while a write is in flight go out together in the
    // next write (batching under load), and a quiet dyno still logs at once. Flushed on exit.
    stream: logStream
  }
}

// SonicBoom (pino.destination) in buffer mode, fed encoded lines. In its default utf8 mode each
// write measures the whole batch pending behind the write in flight again (Buffer.byteLength of
// the concatenated string), so a batch of n lines costs ~n²/2 line lengths. Buffer mode keeps
// the lengths as numbers and concatenates once per write; pino writes strings, so each line is
// encoded here, once. Measured with callgrind on the built server, a cached list request took
// ~200k instructions outside GC before and ~186-191k after (two runs each).
export function createLogStream (fd: number) {
  const destination = pino.destination({ dest: fd, sync: false, contentMode: 'buffer' })
  return {
    write: (line: string) => destination.write(Buffer.from(line) as unknown as string),
    flush: (cb?: (err?: Error) => void) => { destination.flush(cb) },
    flushSync: () => { destination.flushSync() }
  }
}
const logStream = createLogStream(1)
process.once('exit', () => { try { logStream.flushSync() } catch {} })

// What the app logs per request. Heroku's router already writes an access line for every
// request (method, path, status, service time, bytes, client IP, request id); repeating it
// for every success doubles the log volume (log add-ons bill by volume, and a drain that falls
// behind drops lines: L10) and cost ~12 % of a cached list request's CPU (bench A/B, 58 -> 51 us).
// So the app logs what the router cannot tell: a failure (an error or a 5xx) at error or info,
// a refused request (4xx) and a slow one (SLOW_REQUEST_MS or more) at info, and, with
// LOG_LEVEL=debug, every request. One line, at completion (Fastify's arrival line is off),
// flat and without serializers: method, path, status, time, client IP (as the router saw it)
// and request id. A route with config.logRequests = false (the liveness probe, polled by
// uptime monitors) logs only when it fails.
export const SLOW_REQUEST_MS = 1000

class RequestLog extends LogController {
  constructor () { super({ requestIdLogLabel: 'request_id' }) }
  override incomingRequest (): void {}
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const statusCode = reply.statusCode
    const responseTime = Math.round(reply.elapsedTime * 10) / 10
    const failed = Boolean(error) || statusCode >= 500
    const notable = failed || statusCode >= 400 || responseTime >= SLOW_REQUEST_MS
    // Checked before anything is built: most requests end here (Fastify's no-op logger has no isLevelEnabled)
    if (!notable && (reply.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('debug') !== true) return
    if (!failed && request.routeOptions.config.logRequests === false) return
    const entry = { method: request.method, url: request.url, statusCode, responseTime, ip: request.ip }
    if (error) reply.log.error({ ...entry, err: error }, 'request errored')
    else if (notable) reply.log.info(entry, 'request completed')
    else reply.log.debug(entry, 'request completed')
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: no log line for this route's requests unless one fails (5xx or an error), whatever the level. */
    logRequests?: boolean
    /** false: no request budget (handler timeout), for a route that waits on nothing. */
    requestBudget?: boolean
  }
}

export async function buildApp (config: Config, options: AppOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    genReqId: genRequestId,
    requestIdHeader: false,
    logController: new RequestLog(),
    childLoggerFactory: lazyChildLogger,
    bodyLimit: BODY_LIMIT,
    // Heroku's router is one hop: the client IP is the rightmost X-Forwarded-For entry
    trustProxy: (_address: string, hop: number) => hop < config.TRUST_PROXY_HOPS,
    // The router keeps idle connections up to 90 s; a shorter server timeout causes H18/H13s
    keepAliveTimeout: 95_000,
    requestTimeout: 30_000,
    // On close, drop idle keep-alive sockets at once; in-flight requests finish
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // The request budget: Fastify's handlerTimeout answers 503 and aborts request.signal after
  // REQUEST_TIMEOUT_MS, well under the router's 30 s H12. Given route by route, not server-wide,
  // so that a route that waits on nothing (the liveness probe) can go without: the budget costs
  // each request a timer, an AbortController and a 'close' listener, ~3 us on a bare Fastify
  // route where a hello world takes ~15 us. Every route registered after this hook gets it,
  // plugins' and tests' routes included, unless its config says requestBudget: false.
  app.addHook('onRoute', (route) => {
    if (route.config?.requestBudget !== false) route.handlerTimeout ??= config.REQUEST_TIMEOUT_MS
  })

  // Fastify arms the budget's timer per request and clears it when the reply is sent. Node keeps
  // one timer list per duration, and when the last referenced timer of a list is cleared it
  // deletes the list (a delete on a dictionary-mode object), takes it out of its priority queue
  // and unrefs the loop's timer handle; the next request builds all of that again. A cached
  // reply arms and clears its timer within one turn of the loop, so every such request paid
  // for the whole cycle. One timer of the same duration, alive from ready to close, keeps the
  // list and the handle referenced, so a request's timer is a linked-list append and unlink.
  // Measured on the built server, a cached list request: ~188k -> ~161k instructions outside GC
  // (callgrind); in CPU time per request on this VM a smaller gain, 1-2 % (interleaved A/B).
  let budgetListKeeper: NodeJS.Timeout | undefined
  app.addHook('onReady', (done) => {
    budgetListKeeper = setInterval(() => {}, config.REQUEST_TIMEOUT_MS)
    done()
  })
  app.addHook('onClose', (_instance, done) => {
    clearInterval(budgetListKeeper)
    done()
  })

  // Two validators: query strings, params and headers arrive as text and are coerced
  // ("?limit=10" is a number); JSON bodies are typed already and are not ("published":"false"
  // is a 400, not false). Unknown properties are a 400 everywhere, never silently dropped
  // (mass-assignment safety), which is why removeAdditional is off.
  const recorder = options.recordSchemas
  const precompiled = recorder ? undefined : loadPrecompiled(options.precompiledDir ?? import.meta.dirname)
  // Made only when a schema is not precompiled: each Ajv instance costs a few ms of boot
  let bodyAjv: Ajv | undefined
  let textAjv: Ajv | undefined
  const schemas = { precompiled: 0, compiled: 0 }
  const lookup = (compiler: SchemaCompiler, schema: unknown) => {
    const key = schemaKey(compiler, schema)
    const factory = precompiled?.get(key)
    if (factory) schemas.precompiled++
    else schemas.compiled++
    return { key, restored: factory?.() }
  }
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const compiler = httpPart === 'body' ? 'body' : 'text'
    const { key, restored } = lookup(compiler, schema)
    if (restored) return restored as ReturnType<Ajv['compile']>
    const ajv = compiler === 'body' ? (bodyAjv ??= validator(false, recorder !== undefined)) : (textAjv ??= validator('array', recorder !== undefined))
    const validate = ajv.compile(schema)
    recorder?.record(key, ajvStandalone.default(ajv, validate))
    return validate
  })
  // What Fastify's default serializer compiler does (fast-json-stringify, no shared schemas)
  app.setSerializerCompiler(({ schema }) => {
    const { key, restored } = lookup('serializer', schema)
    if (restored) return restored as (data: unknown) => string
    if (!recorder) return fastJsonStringify(schema)
    const code = fastJsonStringify(schema, { mode: 'standalone' })
    recorder.record(key, code)
    return fastJsonStringify(schema)
  })
  app.addHook('onReady', async () => {
    if (precompiled && schemas.compiled > 0) app.log.warn(schemas, 'route schemas compiled at boot: dist/precompiled-schemas.cjs is older than the code; rebuild')
    else if (precompiled) app.log.info(schemas, 'route schemas precompiled at build')
  })

  await app.register(autoload, { dir: join(import.meta.dirname, 'plugins'), options: { config }, forceESM: true })
  await app.register(autoload, {
    dir: join(import.meta.dirname, 'routes'),
    options: { config },
    forceESM: true,
    autoHooks: true,
    cascadeHooks: true,
    ignorePattern: /(?:\.test|\.d)\.(?:ts|js)$/
  })
  if (options.extend) await options.extend(app)
  return app
}

function validator (coerceTypes: false | 'array', keepSource: boolean) {
  // validateSchema off: the schemas are ours (TypeBox, checked by the type checker and the
  // tests), and checking each against the JSON Schema meta-schema compiled that meta-schema
  // (~50 ms) in both instances on every boot. keepSource (build time): the generated code of
  // each validator, with formats taken from ajv-formats when it runs.
  const code = keepSource ? { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } : {}
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false, validateSchema: false, code })
  addFormats.default(ajv)
  return ajv
}

export type App = Awaited<ReturnType<typeof buildApp>>
