// Build step (scripts/build.mjs runs dist/bin/precompile-schemas.js after bundling): builds
// the app once in recording mode and writes the validator and serializer code of every route
// schema to dist/precompiled-schemas.cjs (lib/precompiled-schemas.ts says why). Needs no
// services: plugins connect lazily, and the app is closed before anything would. The
// configuration is placeholders; only the schemas matter here, and no route reads config
// while being defined in a way that changes its schema.
//
// It also fills the module compile cache (lib/compile-cache.ts): loading and building the app
// here compiles what a boot compiles. The build runs it with the web line's node flags.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { flushCompileCache } from 'node:module'
import { useCompileCache } from '../lib/compile-cache.ts'

const DIST = join(import.meta.dirname, '..')
const compileCache = useCompileCache(DIST, import.meta.url)
const { buildApp } = await import('../app.ts')
const { loadConfig } = await import('../lib/config.ts')
const { PRECOMPILED_FILE, SchemaRecorder, loadPrecompiled } = await import('../lib/precompiled-schemas.ts')

const config = loadConfig({
  PORT: '0',
  DATABASE_URL: 'postgres://precompile@127.0.0.1:1/precompile',
  AUTH0_DOMAIN: 'precompile.invalid',
  AUTH0_ISSUER_URL: 'http://127.0.0.1:1/',
  AUTH0_AUDIENCE: 'precompile',
  AUTH0_CLIENT_ID: 'precompile',
  AUTH0_CLIENT_SECRET: 'precompile',
  AWS_ACCESS_KEY_ID: 'precompile',
  AWS_SECRET_ACCESS_KEY: 'precompile',
  AWS_REGION: 'us-east-1',
  S3_BUCKET_NAME: 'precompile',
  CORS_ALLOWED_ORIGINS: '*',
  ENVIRONMENT: 'development',
  LOG_LEVEL: 'silent'
})
const recorder = new SchemaRecorder()
const app = await buildApp(config, { recordSchemas: recorder })
await app.ready()
writeFileSync(join(DIST, PRECOMPILED_FILE), recorder.source())
// Evaluated once here too, so the compile cache holds the code a boot runs from that file
for (const factory of loadPrecompiled(DIST)?.values() ?? []) factory()
flushCompileCache()
console.log(`precompile-schemas: ${recorder.modules.size} validators and serializers in ${PRECOMPILED_FILE}; compile cache ${compileCache}`)
// Not app.close(): its hooks would wait on connections that were never wanted here
process.exit(0)
