// POST /api/v1/uploads: what gets signed. s3rver enforces no POST policy, so the policy is
// decoded and checked condition by condition, and its SigV4 signature recomputed. [inspect]
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { build } from '../helpers/build.ts'
import { presign, type Presigned } from '../helpers/uploads.ts'
import { S3RVER_CREDENTIALS } from '../../dev/s3.ts'
import { PRESIGN_LIMIT } from '../../lib/uploads.ts'

type Condition = Record<string, string> | [string, string | number, string | number]
interface Policy { expiration: string, conditions: Condition[] }

const decode = (fields: Record<string, string>): Policy => JSON.parse(Buffer.from(fields.Policy!, 'base64').toString('utf8'))
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest()

/** Every value the policy pins for a field, from both condition forms ({ field: v } and ['eq', '$field', v]). */
function exact (policy: Policy, field: string): string[] {
  const out: string[] = []
  for (const c of policy.conditions) {
    if (Array.isArray(c)) {
      if (c[0] === 'eq' && String(c[1]).toLowerCase() === `$${field}`.toLowerCase()) out.push(String(c[2]))
    } else {
      for (const [k, v] of Object.entries(c)) if (k.toLowerCase() === field.toLowerCase()) out.push(v)
    }
  }
  return out
}

test('the presigned policy pins bucket, key, type, length and expiry, and its signature verifies', async (t) => {
  const { app, services } = await build(t, { MAX_UPLOAD_SIZE_MB: '2', UPLOAD_URL_TTL_SECONDS: '120' })
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|policy' })
  const before = Date.now()
  const size = 2 * 1_048_576 // exactly the limit: MB is 1,048,576 bytes
  const res = await presign(app, token, { contentType: 'image/png', size, filename: '../../etc/passwd.svg' })
  assert.equal(res.statusCode, 201, res.body)
  const body = res.json<Presigned>()
  const policy = decode(body.fields)

  // Exact bucket, and the form goes to it
  assert.ok(exact(policy, 'bucket').length >= 1)
  for (const v of exact(policy, 'bucket')) assert.equal(v, services.s3.bucket)
  assert.ok(body.url.endsWith(`/${services.s3.bucket}`), body.url)

  // Exact server-generated key: <prefix>/incoming/<uuid>.png, the filename nowhere in it. The
  // form never names the key the image is served from (<prefix>/<uuid>.png): only completion
  // writes that, by copying a verified upload, so the form cannot replace an image
  const key = body.fields.key!
  assert.match(key, /^images\/incoming\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.png$/)
  assert.equal(key, `images/incoming/${body.id}.png`)
  assert.ok(exact(policy, 'key').length >= 1)
  for (const v of exact(policy, 'key')) assert.equal(v, key)

  // Nothing is left to the client: no starts-with, no ${filename} placeholder
  const raw = Buffer.from(body.fields.Policy!, 'base64').toString('utf8')
  assert.ok(!raw.includes('starts-with'), raw)
  assert.ok(!raw.includes('$' + '{filename}'), raw)
  assert.ok(!raw.includes('passwd'), raw)

  // Exact Content-Type from the allowlist, also sent as a field
  assert.ok(exact(policy, 'Content-Type').length >= 1)
  for (const v of exact(policy, 'Content-Type')) assert.equal(v, 'image/png')
  assert.equal(body.fields['Content-Type'], 'image/png')

  // Uploads are tagged pending (the bucket lifecycle rule expires abandoned ones); exact too
  assert.equal(body.fields.tagging, '<Tagging><TagSet><Tag><Key>state</Key><Value>pending</Value></Tag></TagSet></Tagging>')
  for (const v of exact(policy, 'tagging')) assert.equal(v, body.fields.tagging)

  // Every field the client sends is covered by a condition (S3 rejects uncovered fields anyway)
  for (const field of Object.keys(body.fields)) {
    if (field === 'Policy' || field === 'X-Amz-Signature') continue
    assert.ok(exact(policy, field).includes(body.fields[field]!), `field ${field} is not pinned by the policy`)
  }

  // Length: exactly the declared size, within MAX_UPLOAD_SIZE_MB x 1,048,576
  const ranges = policy.conditions.filter((c): c is [string, number, number] => Array.isArray(c) && c[0] === 'content-length-range')
  assert.deepEqual(ranges, [['content-length-range', size, size]])
  assert.ok(ranges[0]![2] <= 2 * 1_048_576)
  assert.equal(body.maxSize, size)

  // Expiry within the configured TTL, and the same instant the API reports
  const expiration = new Date(policy.expiration).getTime()
  assert.ok(expiration <= Date.now() + 120_000, `${policy.expiration} is later than now + TTL`)
  assert.ok(expiration >= before + 110_000, `${policy.expiration} is much shorter than the TTL`)
  assert.equal(new Date(body.expiresAt).getTime(), expiration)

  // SigV4 for POST: signature = hex(HMAC(signingKey, base64 policy)), with the signing key
  // derived from the secret, the credential's date and region, 's3' and 'aws4_request'
  const credential = body.fields['X-Amz-Credential']!
  const [accessKey, date, region, service, terminator] = credential.split('/')
  assert.equal(accessKey, S3RVER_CREDENTIALS.accessKeyId)
  assert.equal(service, 's3')
  assert.equal(terminator, 'aws4_request')
  assert.equal(body.fields['X-Amz-Algorithm'], 'AWS4-HMAC-SHA256')
  assert.ok(body.fields['X-Amz-Date']!.startsWith(date!))
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${S3RVER_CREDENTIALS.secretAccessKey}`, date!), region!), 's3'), 'aws4_request')
  const expected = createHmac('sha256', signingKey).update(body.fields.Policy!, 'utf8').digest('hex')
  assert.equal(body.fields['X-Amz-Signature'], expected)
  // ... and it is the signature of this policy, not of any policy: one changed byte breaks it
  const tampered = Buffer.from(raw.replace(String(size), String(size + 1))).toString('base64')
  assert.notEqual(createHmac('sha256', signingKey).update(tampered, 'utf8').digest('hex'), body.fields['X-Amz-Signature'])

  // The pending row: declared size, the filename as a label only (path stripped)
  const [row] = await app.sql<{ status: string, key: string, declared_size: string, original_filename: string, uploaded_by: string }[]>`select * from images where id = ${body.id}`
  assert.equal(row!.status, 'pending')
  assert.equal(row!.key, `images/${body.id}.png`)
  assert.equal(Number(row!.declared_size), size)
  assert.equal(row!.original_filename, 'passwd.svg')
  assert.equal(row!.uploaded_by, 'auth0|policy')
})

test('each allowed type gets its own extension from the type, never from the filename', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'] })
  const cases = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/avif': 'avif', 'image/gif': 'gif' }
  for (const [type, ext] of Object.entries(cases)) {
    const res = await presign(app, token, { contentType: type, size: 10, filename: 'evil.html' })
    assert.equal(res.statusCode, 201, res.body)
    const body = res.json<Presigned>()
    assert.ok(body.fields.key!.endsWith(`.${ext}`), `${type} -> ${body.fields.key}`)
    for (const v of exact(decode(body.fields), 'Content-Type')) assert.equal(v, type)
  }
})

test('svg, html, octet-stream and other non-raster types are refused at presign with the allowed list', async (t) => {
  const { app, services } = await build(t)
  const token = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|svg' })
  for (const type of ['image/svg+xml', 'text/html', 'application/octet-stream', 'image/', 'image/png; charset=x', 'image/tiff']) {
    const res = await presign(app, token, { contentType: type, size: 100 })
    assert.equal(res.statusCode, 400, `${type}: ${res.body}`)
    assert.match(res.json().message, /contentType must be one of image\/jpeg, image\/png, image\/webp, image\/avif, image\/gif/)
  }
  const count = await app.sql`select count(*)::int as n from images where uploaded_by = 'auth0|svg'`
  assert.equal(count[0]!.n, 0)
})

test('sizes above MAX_UPLOAD_SIZE_MB (MB = 1,048,576 bytes), zero, fractions and extra fields are 400', async (t) => {
  const { app, services } = await build(t, { MAX_UPLOAD_SIZE_MB: '3' })
  const token = services.issuer.token({ permissions: ['write:gallery'] })
  const over = await presign(app, token, { contentType: 'image/jpeg', size: 3 * 1_048_576 + 1 })
  assert.equal(over.statusCode, 400)
  assert.match(over.json().message, /limit of 3 MB \(3145728 bytes/)
  assert.equal((await presign(app, token, { contentType: 'image/jpeg', size: 3 * 1_048_576 })).statusCode, 201)
  assert.equal((await presign(app, token, { contentType: 'image/jpeg', size: 0 })).statusCode, 400)
  assert.equal((await presign(app, token, { contentType: 'image/jpeg', size: 1.5 })).statusCode, 400)
  assert.equal((await presign(app, token, { contentType: 'image/jpeg' })).statusCode, 400)
  // The client may not choose the key (or anything else beyond the three fields)
  const extra = await presign(app, token, { contentType: 'image/jpeg', size: 10, key: 'images/mine.jpg' })
  assert.equal(extra.statusCode, 400)
})

test('presign needs a token with write:gallery', async (t) => {
  const { app, services } = await build(t)
  const anonymous = await app.inject({ method: 'POST', url: '/api/v1/uploads', payload: { contentType: 'image/png', size: 10 } })
  assert.equal(anonymous.statusCode, 401)
  const reader = await presign(app, services.issuer.token({ permissions: ['read:gallery'], sub: 'auth0|reader' }), { contentType: 'image/png', size: 10 })
  assert.equal(reader.statusCode, 403)
  const count = await app.sql`select count(*)::int as n from images where uploaded_by = 'auth0|reader'`
  assert.equal(count[0]!.n, 0)
})

test('presign is limited per subject even with the global rate limit off, with retry-after', async (t) => {
  // The test environment sets RATE_LIMIT_ENABLED=false: this limit must hold regardless
  const { app, services } = await build(t)
  const busy = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|busy' })
  const other = services.issuer.token({ permissions: ['write:gallery'], sub: 'auth0|other' })
  for (let i = 0; i < PRESIGN_LIMIT.max; i++) {
    const res = await presign(app, busy, { contentType: 'image/png', size: 10 })
    assert.equal(res.statusCode, 201, `request ${i + 1}: ${res.body}`)
  }
  const limited = await presign(app, busy, { contentType: 'image/png', size: 10 })
  assert.equal(limited.statusCode, 429)
  assert.equal(limited.json().code, 'GALLERY_TOO_MANY_UPLOADS')
  const retryAfter = Number(limited.headers['retry-after'])
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${limited.headers['retry-after']}`)
  // Another subject is not affected, and the limited request created no row
  assert.equal((await presign(app, other, { contentType: 'image/png', size: 10 })).statusCode, 201)
  const rows = await app.sql`select count(*)::int as n from images where uploaded_by = 'auth0|busy'`
  assert.equal(rows[0]!.n, PRESIGN_LIMIT.max)
})
