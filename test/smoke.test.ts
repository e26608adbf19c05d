import { test } from 'node:test'
import assert from 'node:assert/strict'
import { build } from './helpers/build.ts'

test('liveness answers without touching dependencies', async (t) => {
  const { app } = await build(t)
  const res = await app.inject('/health')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})
