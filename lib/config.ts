// Configuration: one TypeBox schema for every environment variable, validated once at boot
// with TypeBox's Value functions, listing every problem so a bad deploy fails with the full list.
//
// Not env-schema: it builds an Ajv instance and compiles JSON Schema's meta-schema when it is
// imported, then compiles this schema with a second pass of Ajv's code generation: ~50 ms of
// every boot (profiled) to check one object once. We used none of its extras (dotenv,
// variable expansion). TypeBox, already the schema library, checks the same schema without
// compiling it, and reports errors in Ajv's shape.
// @see https://12factor.net/config
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

export const Environments = ['development', 'staging', 'production'] as const

// Variables whose values are never printed, even in a validation message.
export const SECRET_KEYS = ['DATABASE_URL', 'AUTH0_CLIENT_SECRET', 'AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'REDIS_URL'] as const

const NonEmpty = (description: string) => Type.String({ minLength: 1, description })
const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description })
const Int = (def: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: def, minimum, maximum, description })
const OneOf = <T extends string>(values: readonly T[], description: string, def?: T) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], description: `${description} (${values.join(', ')})`, ...(def === undefined ? {} : { default: def }) })
const Url = (description: string) => Type.String({ pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://\\S+$', description })

export const ConfigSchema = Type.Object({
  // From the seed deployment spec
  PORT: Int(3000, 0, 65535, 'Port to bind on 0.0.0.0 (Heroku sets it)'),
  DATABASE_URL: Url('Postgres connection string (Heroku Postgres sets it)'),
  AUTH0_DOMAIN: Type.String({ pattern: '^[A-Za-z0-9.-]+(:[0-9]+)?$', description: 'Auth0 tenant domain, e.g. gallery.eu.auth0.com' }),
  AUTH0_AUDIENCE: NonEmpty('Auth0 API identifier; access tokens must carry it in aud'),
  AUTH0_CLIENT_ID: NonEmpty('Auth0 application client id (an ID token carries it as aud and is refused)'),
  AUTH0_CLIENT_SECRET: NonEmpty('Auth0 application client secret (Management API); never logged'),
  AWS_ACCESS_KEY_ID: NonEmpty('S3 credentials'),
  AWS_SECRET_ACCESS_KEY: NonEmpty('S3 credentials; never logged'),
  AWS_REGION: Type.String({ pattern: '^[a-z0-9-]+$', description: 'S3 region, e.g. eu-west-1' }),
  S3_BUCKET_NAME: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: 'S3 bucket for images' }),
  CORS_ALLOWED_ORIGINS: Type.String({ pattern: '^\\s*(\\*|https?://[^\\s,]+)(\\s*,\\s*https?://[^\\s,]+)*\\s*$', description: 'Comma-separated origins allowed to call the API (and POST to the bucket)' }),
  ENVIRONMENT: OneOf(Environments, 'Deployment environment'),
  LOG_LEVEL: OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'pino log level', 'info'),
  RATE_LIMIT_ENABLED: Bool(true, 'Per-client rate limiting (429 + retry-after)'),
  MAX_UPLOAD_SIZE_MB: Type.Number({ default: 10, exclusiveMinimum: 0, maximum: 5120, description: 'Largest image accepted; MB = 1,048,576 bytes' }),

  // Operation
  AUTH0_ISSUER_URL: Type.Optional(Url('Full issuer URL overriding https://<AUTH0_DOMAIN>/ (local issuer in dev/tests)')),
  AUTH0_ALGORITHMS: Type.String({ default: 'RS256', pattern: '^(RS|PS|ES)(256|384|512)(,(RS|PS|ES)(256|384|512))*$', description: 'Allowed asymmetric JWT algorithms, comma-separated' }),
  JWKS_TIMEOUT_MS: Int(5000, 100, 30000, 'Longest wait for the JWKS endpoint'),
  S3_ENDPOINT: Type.Optional(Url('S3-compatible endpoint override (s3rver, MinIO)')),
  S3_FORCE_PATH_STYLE: Bool(false, 'Path-style bucket addressing (needed by s3rver/MinIO)'),
  S3_KEY_PREFIX: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Key prefix inside the bucket; defaults to HEROKU_APP_NAME for review apps, else "images"' })),
  HEROKU_APP_NAME: Type.Optional(Type.String({ description: 'Set by Heroku dyno metadata / review apps' })),
  UPLOAD_URL_TTL_SECONDS: Int(300, 30, 3600, 'Lifetime of a presigned upload'),
  ASSET_BASE_URL: Type.Optional(Url('CDN base URL for image delivery; without it images get presigned GET URLs')),
  DATABASE_POOL_MAX: Int(4, 1, 100, 'Connections per web process (see README connection arithmetic)'),
  DATABASE_SSL: Type.Optional(OneOf(['off', 'no-verify', 'verify'] as const, 'TLS to Postgres; default no-verify in staging/production (Heroku certificates are not publicly verifiable), off in development')),
  DATABASE_STATEMENT_TIMEOUT_MS: Int(8000, 100, 60000, 'Postgres statement_timeout; below REQUEST_TIMEOUT_MS so a slow query dies before its request'),
  REQUEST_TIMEOUT_MS: Int(10000, 1000, 25000, 'App-level handler timeout (Heroku router gives up at 30 s)'),
  REDIS_URL: Type.Optional(Url('Shared rate-limit store across dynos')),
  RATE_LIMIT_MAX: Int(300, 1, 1000000, 'Requests per client IP per minute'),
  TRUST_PROXY_HOPS: Int(1, 0, 10, 'Proxies in front of the app (Heroku router = 1); the client IP is that many entries from the right of X-Forwarded-For'),
  WEB_CONCURRENCY: Int(1, 1, 32, 'Worker processes per dyno (node:cluster); Heroku sets it from dyno memory'),
  LOAD_SHEDDING_ENABLED: Bool(true, 'Answer 503 + Retry-After when the event loop is saturated instead of queueing into H12 timeouts'),
  SHUTDOWN_TIMEOUT_MS: Int(20000, 1000, 28000, 'Grace period after SIGTERM (Heroku sends SIGKILL at 30 s)')
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

interface SchemaError { keyword: string, instancePath: string, message?: string, params: Record<string, unknown> }

function describe (e: SchemaError): string[] {
  if (Array.isArray(e.params.requiredProperties)) return e.params.requiredProperties.map(key => `${String(key)} is required`)
  const key = e.instancePath.replace(/^\//, '').split('/')[0] ?? ''
  // The messages name the rule, never the value, so secrets stay out of the output
  const allowed = Array.isArray(e.params.allowedValues) ? `: ${e.params.allowedValues.join(', ')}` : ''
  return [`${key} ${e.message ?? 'is invalid'}${allowed}`]
}

/** Validate an environment; throws ConfigError listing every problem. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const data = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  // Drop variables the schema does not name (PATH, HOME...), fill defaults, turn the strings of
  // numeric and boolean variables into numbers and booleans; what cannot be turned stays a
  // string and fails the check below. (These work in place: on a copy, so `data` stays as given.)
  const candidate = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, Value.Clean(ConfigSchema, { ...data }))) as Record<string, unknown>
  // Convert truncates "2.5" to 2 for an integer: keep such a value as given, so it is refused
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    if ('type' in schema && schema.type === 'integer' && typeof data[key] === 'string' && !Number.isInteger(Number(data[key]))) candidate[key] = data[key]
  }
  if (!Value.Check(ConfigSchema, candidate)) {
    throw new ConfigError([...new Set(Value.Errors(ConfigSchema, candidate).flatMap(describe))])
  }
  const config = candidate
  const problems: string[] = []
  if (config.ENVIRONMENT === 'production' && config.CORS_ALLOWED_ORIGINS.trim() === '*') problems.push('CORS_ALLOWED_ORIGINS must list origins in production, not *')
  if (config.ENVIRONMENT !== 'development' && config.AUTH0_ISSUER_URL?.startsWith('http://') === true) problems.push('AUTH0_ISSUER_URL must be https outside development')
  // Postgres must end a slow query before its request gives up, or the query outlives the
  // 503 and keeps holding a connection (a cached public fill has no request to cancel it)
  if (config.DATABASE_STATEMENT_TIMEOUT_MS >= config.REQUEST_TIMEOUT_MS) problems.push('DATABASE_STATEMENT_TIMEOUT_MS must be below REQUEST_TIMEOUT_MS')
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

/** For the server and commands: the config, or null after printing every problem (exit 2). */
export function loadConfigOrReport (env: Record<string, string | undefined> = process.env): Config | null {
  try {
    return loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) { console.error(err.message); return null }
    throw err
  }
}

/** Values derived from the configuration, computed once. */
export function issuerOf (config: Config): string {
  const url = config.AUTH0_ISSUER_URL ?? `https://${config.AUTH0_DOMAIN}/`
  return url.endsWith('/') ? url : `${url}/`
}

export function corsOrigins (config: Config): string[] | '*' {
  const list = config.CORS_ALLOWED_ORIGINS.split(',').map(s => s.trim().replace(/\/$/, '')).filter(Boolean)
  return list.includes('*') ? '*' : list
}

export function databaseSsl (config: Config): false | 'require' | { rejectUnauthorized: false } {
  const mode = config.DATABASE_SSL ?? (config.ENVIRONMENT === 'development' ? 'off' : 'no-verify')
  if (mode === 'off') return false
  // Heroku Postgres certificates are not signed by a public CA: encrypt without verifying
  return mode === 'no-verify' ? { rejectUnauthorized: false } : 'require'
}

export function keyPrefix (config: Config): string {
  if (config.S3_KEY_PREFIX) return config.S3_KEY_PREFIX
  return config.HEROKU_APP_NAME ? config.HEROKU_APP_NAME.toLowerCase().replace(/[^a-z0-9-]/g, '-') : 'images'
}

export const MB = 1_048_576
export function maxUploadBytes (config: Config): number {
  return Math.floor(config.MAX_UPLOAD_SIZE_MB * MB)
}
