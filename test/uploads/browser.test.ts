// A real browser (Debian's Chromium, driven by playwright-core) opens the dev page, picks a
// real 1 MB+ PNG, uploads it straight to s3rver with the presigned POST (bucket CORS allowing
// exactly the page's origin), completes it and sees it listed. The API counts every request
// body byte it receives: the whole flow must stay under 16 KB, so the image never went
// through the API.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { PutBucketCorsCommand } from '@aws-sdk/client-s3'
import { chromium } from 'playwright-core'
import { build } from '../helpers/build.ts'
import { getServices } from '../helpers/services.ts'
import { makePng } from '../helpers/uploads.ts'
import { registerDevRoutes } from '../../dev/routes.ts'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync']

test('the dev page uploads a 1 MB+ image straight to S3, completes it and lists it; the API sees < 16 KB of bodies', async (t) => {
  // Not a skip: a missing browser is a broken environment (.ci/run installs it)
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the browser test`)

  const services = await getServices()
  // Request body bytes as the API's parser receives them, per request
  const bodies: Array<{ method: string, url: string, bytes: number }> = []
  const { app } = await build(t, {}, {
    extend: (a) => {
      registerDevRoutes(a, services)
      a.addHook('preParsing', async (request, _reply, payload) => {
        const entry = { method: request.method, url: request.url, bytes: 0 }
        bodies.push(entry)
        // HTTP framing: without content-length or transfer-encoding a request has no body. Not
        // reading such a stream matters: consuming it fires the 'close' that aborts request.signal
        const { 'content-length': length, 'transfer-encoding': chunked } = request.headers
        if (chunked === undefined && (length === undefined || length === '0')) return payload
        return payload.pipe(new Transform({
          transform (chunk: Buffer, _encoding, done) { entry.bytes += chunk.length; done(null, chunk) }
        }))
      })
    }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // The bucket allows POSTs from exactly this page's origin, as production's bucket allows the site's
  await app.storage.client.send(new PutBucketCorsCommand({
    Bucket: app.storage.bucket,
    CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: ['POST', 'GET', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 }] }
  }))
  // ... and s3rver really enforces it: another origin gets no Access-Control-Allow-Origin
  const foreign = await fetch(`${services.s3.endpoint}/${app.storage.bucket}`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } })
  await foreign.arrayBuffer()
  assert.equal(foreign.headers.get('access-control-allow-origin'), null)

  // A real, incompressible PNG of ~1.2 MB (random pixels)
  const dir = await mkdtemp(join(tmpdir(), 'gallery-browser-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const png = makePng(720, 560, { noise: true })
  assert.ok(png.length >= 1_048_576, `fixture is ${png.length} bytes`)
  const file = join(dir, `browser-${Date.now()}.png`)
  await writeFile(file, png)

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.after(() => browser.close())
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', msg => { if (msg.type() === 'error') problems.push(msg.text()) })
  page.on('pageerror', err => problems.push(err.message))
  page.on('response', res => {
    if (res.status() >= 400) problems.push(`${res.request().method()} ${res.url()} -> ${res.status()}`)
  })

  await page.goto(`${origin}/dev`)
  await page.setInputFiles('#file', file)
  await page.click('#send')
  await page.waitForSelector('body[data-state]', { timeout: 30_000 })
  const log = await page.textContent('#log')
  assert.equal(await page.getAttribute('body', 'data-state'), 'done', `the page reported an error:\n${log}`)
  assert.deepEqual(problems, [], 'no console errors (CSP violations, CORS failures)')

  // The image row is ready, and its object is in the bucket with every byte
  const [row] = await app.sql<{ id: string, key: string, status: string, size: string, width: number, height: number }[]>`
    select id, key, status, size, width, height from images where original_filename = ${file.split('/').pop()!}`
  assert.ok(row, 'the upload created an image')
  assert.equal(row.status, 'ready')
  assert.equal(Number(row.size), png.length)
  assert.deepEqual([row.width, row.height], [720, 560])
  const head = await app.storage.headObject(row.key)
  assert.equal(head?.size, png.length)
  assert.equal(head?.contentType, 'image/png')

  // The page lists it, and the browser loaded it from the bucket (CSP img-src, real pixels)
  const img = page.locator(`img[data-id="${row.id}"]`)
  await img.waitFor({ timeout: 10_000 })
  await page.waitForFunction((id) => {
    const el = document.querySelector<HTMLImageElement>(`img[data-id="${id}"]`)
    return el !== null && el.complete && el.naturalWidth > 0
  }, row.id, { timeout: 10_000 })
  assert.equal(await img.evaluate((el: HTMLImageElement) => el.naturalWidth), 720)
  assert.ok((await img.getAttribute('src'))!.startsWith(services.s3.endpoint))

  // The API saw the presign and complete calls, and far less than the image in bodies
  assert.ok(bodies.some(b => b.method === 'POST' && b.url === '/api/v1/uploads' && b.bytes > 0), JSON.stringify(bodies))
  assert.ok(bodies.some(b => b.method === 'POST' && b.url === `/api/v1/uploads/${row.id}/complete`), JSON.stringify(bodies))
  const total = bodies.reduce((sum, b) => sum + b.bytes, 0)
  assert.ok(total < 16 * 1024, `the API received ${total} bytes of request bodies: ${JSON.stringify(bodies)}`)
})
