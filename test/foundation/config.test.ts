import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig, ConfigError, issuerOf, corsOrigins, databaseSsl, keyPrefix, maxUploadBytes } from '../../lib/config.ts'
import { spawnNode } from '../helpers/spawn.ts'

const VALID = {
  DATABASE_URL: 'postgres://gallery:hunter2-db-secret@db.example.com:5432/gallery',
  AUTH0_DOMAIN: 'gallery.eu.auth0.com',
  AUTH0_AUDIENCE: 'https://api.gallery.example/',
  AUTH0_CLIENT_ID: 'client-id',
  AUTH0_CLIENT_SECRET: 'client-secret-value',
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-value',
  AWS_REGION: 'eu-west-1',
  S3_BUCKET_NAME: 'gallery-images',
  CORS_ALLOWED_ORIGINS: 'https://gallery.example, https://www.gallery.example',
  ENVIRONMENT: 'production'
}

test('a complete environment loads with the documented defaults', () => {
  const config = loadConfig(VALID)
  assert.equal(config.PORT, 3000)
  assert.equal(config.MAX_UPLOAD_SIZE_MB, 10)
  assert.equal(maxUploadBytes(config), 10 * 1_048_576)
  assert.equal(config.RATE_LIMIT_ENABLED, true)
  assert.equal(config.LOG_LEVEL, 'info')
  assert.equal(issuerOf(config), 'https://gallery.eu.auth0.com/')
  assert.deepEqual(corsOrigins(config), ['https://gallery.example', 'https://www.gallery.example'])
  // Heroku Postgres certificates are not publicly verifiable: encrypted, not verified
  assert.deepEqual(databaseSsl(config), { rejectUnauthorized: false })
  assert.equal(databaseSsl(loadConfig({ ...VALID, ENVIRONMENT: 'development' })), false)
  assert.equal(keyPrefix(config), 'images')
  assert.equal(keyPrefix(loadConfig({ ...VALID, HEROKU_APP_NAME: 'gallery-pr-42' })), 'gallery-pr-42')
  assert.equal(issuerOf(loadConfig({ ...VALID, ENVIRONMENT: 'development', AUTH0_ISSUER_URL: 'http://127.0.0.1:4100' })), 'http://127.0.0.1:4100/')
})

test('every problem is listed at once, without echoing any value', () => {
  const env = { ...VALID, PORT: 'eighty', ENVIRONMENT: 'prod', MAX_UPLOAD_SIZE_MB: '-3', DATABASE_URL: 'hunter2-db-secret', LOG_LEVEL: 'loud' } as Record<string, string>
  delete env.AUTH0_AUDIENCE
  delete env.AWS_SECRET_ACCESS_KEY
  assert.throws(() => loadConfig(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    const text = err.message
    for (const name of ['AUTH0_AUDIENCE', 'AWS_SECRET_ACCESS_KEY', 'PORT', 'ENVIRONMENT', 'MAX_UPLOAD_SIZE_MB', 'DATABASE_URL', 'LOG_LEVEL']) {
      assert.ok(text.includes(name), `message names ${name}:\n${text}`)
    }
    assert.equal(err.problems.length, 7, text)
    for (const secret of ['hunter2-db-secret', 'client-secret-value', 'AKIAEXAMPLE']) assert.ok(!text.includes(secret), 'no secret in the message')
    return true
  })
})

test('numbers and booleans are read from their strings; a fraction for an integer is refused, not truncated', () => {
  const config = loadConfig({ ...VALID, PORT: '8080', RATE_LIMIT_ENABLED: 'false', MAX_UPLOAD_SIZE_MB: '2.5', PATH: '/usr/bin' })
  assert.equal(config.PORT, 8080)
  assert.equal(config.RATE_LIMIT_ENABLED, false)
  assert.equal(config.MAX_UPLOAD_SIZE_MB, 2.5)
  assert.ok(!('PATH' in config), 'variables the schema does not name are dropped')
  assert.throws(() => loadConfig({ ...VALID, PORT: '80.5', REQUEST_TIMEOUT_MS: '2.5' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.deepEqual(err.problems.map(p => p.split(' ')[0]).sort(), ['PORT', 'REQUEST_TIMEOUT_MS'])
    return true
  })
  assert.throws(() => loadConfig({ ...VALID, RATE_LIMIT_ENABLED: 'maybe' }), /RATE_LIMIT_ENABLED must be boolean/)
})

test('a statement timeout at or above the request timeout is refused', () => {
  assert.throws(() => loadConfig({ ...VALID, DATABASE_STATEMENT_TIMEOUT_MS: '10000', REQUEST_TIMEOUT_MS: '10000' }), /DATABASE_STATEMENT_TIMEOUT_MS must be below REQUEST_TIMEOUT_MS/)
  assert.equal(loadConfig({ ...VALID, DATABASE_STATEMENT_TIMEOUT_MS: '3000', REQUEST_TIMEOUT_MS: '4000' }).DATABASE_STATEMENT_TIMEOUT_MS, 3000)
})

test('production refuses a wildcard CORS origin and a plain-http issuer', () => {
  assert.throws(() => loadConfig({ ...VALID, CORS_ALLOWED_ORIGINS: '*' }), /CORS_ALLOWED_ORIGINS/)
  assert.throws(() => loadConfig({ ...VALID, AUTH0_ISSUER_URL: 'http://evil.example/' }), /AUTH0_ISSUER_URL must be https/)
})

test('the server stops before binding, exit code non-zero, listing every problem and no secret', async () => {
  const { output, exited } = spawnNode(['server.ts'], { PORT: '0', DATABASE_URL: 'hunter2-db-secret', AWS_SECRET_ACCESS_KEY: 'aws-secret-value', ENVIRONMENT: 'staging' })
  const { code } = await exited
  assert.equal(code, 2)
  const text = output()
  assert.match(text, /Invalid configuration \(\d+ problems\)/)
  for (const name of ['DATABASE_URL', 'AUTH0_DOMAIN', 'AUTH0_AUDIENCE', 'AWS_REGION', 'S3_BUCKET_NAME', 'CORS_ALLOWED_ORIGINS']) assert.ok(text.includes(name), `${name} listed`)
  assert.ok(!text.includes('hunter2-db-secret') && !text.includes('aws-secret-value'), 'secrets not printed')
  assert.ok(!/listening/i.test(text), 'never bound')
})
