// Magic numbers: the first bytes decide the type, whatever the client declared.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sniffImageType, dimensionsOf, inspectImage, type ImageType } from '../../lib/magic.ts'
import { fixture, makePng, makeGif } from '../helpers/uploads.ts'

/** An ISO-BMFF ftyp box: [size][ftyp][major][minor][compatible...]. */
function ftyp (major: string, compatible: string[]): Buffer {
  const body = Buffer.concat([Buffer.from('ftyp'), Buffer.from(major), Buffer.alloc(4), ...compatible.map(b => Buffer.from(b))])
  const size = Buffer.alloc(4)
  size.writeUInt32BE(body.length + 4)
  return Buffer.concat([size, body, Buffer.alloc(32)])
}

test('real files are recognised by their bytes', () => {
  assert.equal(sniffImageType(makePng(2, 2)), 'image/png')
  assert.equal(sniffImageType(fixture('sample.jpg')), 'image/jpeg')
  assert.equal(sniffImageType(fixture('sample.webp')), 'image/webp')
  assert.equal(sniffImageType(makeGif()), 'image/gif')
  assert.equal(sniffImageType(Buffer.from('GIF87a\x01\x00\x01\x00', 'latin1')), 'image/gif')
})

test('AVIF is an ftyp box with the avif or avis brand, major or compatible; HEIC and MP4 are not', () => {
  assert.equal(sniffImageType(ftyp('avif', ['mif1', 'miaf'])), 'image/avif')
  assert.equal(sniffImageType(ftyp('avis', ['msf1'])), 'image/avif')
  assert.equal(sniffImageType(ftyp('mif1', ['miaf', 'avif'])), 'image/avif')
  assert.equal(sniffImageType(ftyp('heic', ['mif1', 'heic'])), null)
  assert.equal(sniffImageType(ftyp('isom', ['iso2', 'mp41'])), null)
})

test('markup, scripts, archives, truncated headers and near misses are not images', () => {
  for (const text of ['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', '<!doctype html><html>', '%PDF-1.7', 'PK\x03\x04', '', 'GIF8', 'RIFF\x00\x00\x00\x00WAVEfmt ']) {
    assert.equal(sniffImageType(Buffer.from(text, 'latin1')), null, JSON.stringify(text))
  }
  assert.equal(sniffImageType(Buffer.from([0xff, 0xd8])), null)
  assert.equal(sniffImageType(makePng(2, 2).subarray(0, 7)), null)
  // A PNG signature with one byte changed (the CRLF/LF line-ending check bytes)
  const broken = makePng(2, 2)
  broken[4] = 0x0a
  assert.equal(sniffImageType(broken), null)
})

test('dimensions come from the header bytes, and a partial header gives null rather than an error', () => {
  assert.deepEqual(dimensionsOf(makePng(321, 123)), { width: 321, height: 123 })
  assert.deepEqual(dimensionsOf(fixture('sample.jpg')), { width: 40, height: 30 })
  assert.deepEqual(dimensionsOf(fixture('sample.webp')), { width: 40, height: 30 })
  assert.equal(dimensionsOf(fixture('sample.jpg').subarray(0, 20)), null)
  assert.equal(dimensionsOf(Buffer.from('<html>')), null)
})

test('an image must be one beyond its magic number: structure and dimensions in the header', () => {
  const ok = (buf: Buffer, type: ImageType) => inspectImage(buf, type)
  assert.deepEqual(ok(makePng(7, 5), 'image/png'), { ok: true, dimensions: { width: 7, height: 5 } })
  assert.deepEqual(ok(fixture('sample.jpg'), 'image/jpeg'), { ok: true, dimensions: { width: 40, height: 30 } })
  assert.deepEqual(ok(fixture('sample.webp'), 'image/webp'), { ok: true, dimensions: { width: 40, height: 30 } })
  assert.deepEqual(ok(makeGif(), 'image/gif'), { ok: true, dimensions: { width: 1, height: 1 } })
  // AVIF keeps its size deep in nested boxes: accepted without dimensions
  assert.deepEqual(ok(ftyp('avif', ['mif1', 'miaf']), 'image/avif'), { ok: true, dimensions: null })

  const html = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>')
  const png = makePng(7, 5)
  const badCrc = Buffer.from(png)
  badCrc[17] = 0x7f // width changed, IHDR CRC no longer matches
  const webp = fixture('sample.webp')
  const refused: Array<[string, Buffer, ImageType]> = [
    ['PNG signature + HTML', Buffer.concat([png.subarray(0, 8), html]), 'image/png'],
    ['PNG with a corrupt IHDR', badCrc, 'image/png'],
    ['JPEG SOI + HTML', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), html]), 'image/jpeg'],
    ['JPEG APP0 + HTML', Buffer.concat([fixture('sample.jpg').subarray(0, 20), html]), 'image/jpeg'],
    ['JPEG cut before its frame header', fixture('sample.jpg').subarray(0, 100), 'image/jpeg'],
    ['GIF header + HTML', Buffer.concat([Buffer.from('GIF89a'), html]), 'image/gif'],
    ['WebP header + HTML', Buffer.concat([webp.subarray(0, 16), html]), 'image/webp'],
    ['RIFF/WEBP + HTML', Buffer.concat([Buffer.from('RIFF\x00\x01\x00\x00WEBPVP8 ', 'latin1'), html]), 'image/webp']
  ]
  for (const [what, buf, type] of refused) {
    assert.equal(sniffImageType(buf), type, `${what} does start like ${type}`)
    const result = inspectImage(buf, type)
    assert.equal(result.ok, false, what)
    assert.match((result as { reason: string }).reason, /^The file is not a valid (PNG|JPEG|GIF|WebP) image/, what)
  }
})
