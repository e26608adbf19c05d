// Input validation at the edges: typed JSON bodies are not coerced, text parts are; values
// Postgres refuses (a NUL byte) are a 400, never a 500.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { build, bearer } from '../helpers/build.ts'

test('JSON bodies are not type-coerced: a string where a boolean or array belongs is a 400', async (t) => {
  const { app, services } = await build(t)
  const auth = bearer(services.issuer.token({ permissions: ['write:gallery'] }))
  const bad = [
    { slug: 'coerce-a', title: 'A', published: 'false' },
    { slug: 'coerce-b', title: 'B', position: '3' },
    { slug: 'coerce-c', title: 'C', published: 1 }
  ]
  for (const payload of bad) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: auth, payload })
    assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} -> ${res.body}`)
    assert.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
  const ok = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: auth, payload: { slug: 'coerce-ok', title: 'OK', published: false, position: 3 } })
  assert.equal(ok.statusCode, 201, ok.body)
  // Query strings are text and are coerced
  const list = await app.inject('/api/v1/collections?limit=5')
  assert.equal(list.statusCode, 200, list.body)
})

test('a NUL byte in a query or a body is a 400, not a 500', async (t) => {
  const { app, services } = await build(t)
  const auth = bearer(services.issuer.token({ permissions: ['write:gallery'] }))
  for (const url of ['/api/v1/images?tag=a%00b', '/api/v1/images?collection=a%00b']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 400, `${url} -> ${res.body}`)
    assert.equal(res.json().statusCode, 400)
  }
  const res = await app.inject({ method: 'POST', url: '/api/v1/collections', headers: auth, payload: { slug: 'nul-title', title: 'a\u0000b' } })
  assert.equal(res.statusCode, 400, res.body)
})
