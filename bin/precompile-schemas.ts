// Build step (scripts/build.mjs runs dist/bin/precompile-schemas.js after bundling): builds
// the app once in recording mode and writes the validator and serializer code of every route
// schema to dist/precompiled-schemas.cjs (lib/precompiled-schemas.ts says why). Needs no
// services: plugins connect lazily, and the app is closed before anything would. The
// configuration is placeholders; only the schemas matter here, and no route reads config
// while being defined in a way that changes its schema.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../app.ts'
import { loadConfig } from '../lib/config.ts'
import { PRECOMPILED_FILE, SchemaRecorder } from '../lib/precompiled-schemas.ts'

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
const file = join(import.meta.dirname, '..', PRECOMPILED_FILE)
writeFileSync(file, recorder.source())
console.log(`precompile-schemas: ${recorder.modules.size} validators and serializers in ${PRECOMPILED_FILE}`)
// Not app.close(): its hooks would wait on connections that were never wanted here
process.exit(0)
