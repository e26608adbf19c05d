import { test } from 'node:test'
import assert from 'node:assert/strict'
import postgres from 'postgres'
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3'
import { getServices, testEnv } from '../helpers/services.ts'
import { spawnNode } from '../helpers/spawn.ts'
import { build } from '../helpers/build.ts'

test('postdeploy seed: demo collections with real objects, visible publicly; a second run is a no-op; never in production', async (t) => {
  const services = await getServices()
  const env = await testEnv({ HEROKU_APP_NAME: 'gallery-pr-7' })
  const first = spawnNode(['bin/seed.ts'], env)
  assert.equal((await first.exited).code, 0, first.output())
  assert.match(first.output(), /created 2 collections and 6 images under gallery-pr-7\//)

  const sql = postgres(services.databaseUrl, { max: 1, onnotice: () => {} })
  const s3 = new S3Client({ region: 'us-east-1', endpoint: services.s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
  try {
    const rows = await sql<{ key: string, size: string }[]>`select key, size from images where status = 'ready' and published`
    assert.equal(rows.length, 6)
    for (const row of rows) {
      assert.match(row.key, /^gallery-pr-7\/[0-9a-f-]{36}\.png$/)
      const head = await s3.send(new HeadObjectCommand({ Bucket: services.s3.bucket, Key: row.key }))
      assert.equal(head.ContentLength, Number(row.size))
      assert.equal(head.ContentType, 'image/png')
    }
  } finally {
    s3.destroy()
    await sql.end()
  }

  const { app } = await build(t, { HEROKU_APP_NAME: 'gallery-pr-7' })
  const list = await app.inject('/api/v1/collections')
  assert.deepEqual(list.json().items.map((c: { slug: string }) => c.slug).sort(), ['copper-prints', 'nail-designs'])

  const again = spawnNode(['bin/seed.ts'], env)
  assert.equal((await again.exited).code, 0)
  assert.match(again.output(), /nothing to do/)

  const prod = spawnNode(['bin/seed.ts'], { ...env, ENVIRONMENT: 'production', CORS_ALLOWED_ORIGINS: 'https://gallery.example', AUTH0_ISSUER_URL: 'https://127.0.0.1:1/' })
  assert.notEqual((await prod.exited).code, 0)
  assert.match(prod.output(), /refusing/)
})
