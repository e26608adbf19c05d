// request.log, made when a request first logs. Fastify gives every request a child of the app
// logger bound to its request id, and pino's child() builds it at once: a new logger object
// with the bindings serialised to a JSON fragment. Most requests never log (app.ts logs
// failures, refusals and slow requests; Heroku's router logs the rest), so that work was done
// for nothing: ~2 % of the CPU profile of GET /health under load. This stands in for the child
// and makes it on the first log call, with the same bindings and options, so every line a
// request writes still carries its request_id. pino has no lazy child and Fastify's
// childLoggerFactory option is the documented place for one; the pass-through is written here.
// @see https://fastify.dev/docs/latest/Reference/Server/#childloggerfactory
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions as ChildOptions } from 'pino'

type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
type LevelCheck = { isLevelEnabled?: (level: string) => boolean }

// Declaration merging: the log methods are put on the prototype below, one function each,
// rather than as a closure per method per request
interface RequestLogger extends FastifyBaseLogger {}
class RequestLogger {
  #parent: FastifyBaseLogger
  #bindings: Bindings
  #options: ChildOptions
  #child: FastifyBaseLogger | undefined

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  /** The pino child, made on first use. */
  materialize (): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options))
  }

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.materialize().child(bindings, options)
  }

  // Read per request by app.ts's log controller: answered without making the child unless
  // this route has its own log level (a child with a level answers for itself)
  isLevelEnabled (level: string): boolean {
    const logger = this.#child ?? (this.#options.level === undefined ? this.#parent : this.materialize())
    return (logger as LevelCheck).isLevelEnabled?.(level) ?? true
  }

  // Declared as an accessor pair, so the interface's `level` field is not redeclared as an own property
  get level (): string { return this.#child?.level ?? this.#options.level ?? this.#parent.level }
  set level (level: string) { this.materialize().level = level }
}

for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly Level[]) {
  Object.defineProperty(RequestLogger.prototype, level, {
    value: function (this: RequestLogger, ...args: unknown[]) {
      // A call below the level writes nothing, so it makes nothing either
      if (!this.isLevelEnabled(level)) return
      const logger = this.materialize()
      ;(logger[level] as (...a: unknown[]) => void).apply(logger, args)
    },
    writable: true,
    configurable: true
  })
}

export const lazyChildLogger: ChildLoggerFactory = (logger, bindings, options) =>
  new RequestLogger(logger, bindings, options)
