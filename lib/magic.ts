// Magic-number sniffing for the raster types we accept: the Content-Type a client declares is
// never trusted, the first bytes of the stored object are.
// @see https://cheatsheetseries.owasp.org/cheatsheets/File_Upload_Cheat_Sheet.html
import { crc32 } from 'node:zlib'
import { imageSize } from 'image-size'

export type ImageType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp' | 'image/avif'

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
// ISO-BMFF brands that mean AVIF: still image and image sequence
const AVIF_BRANDS = new Set(['avif', 'avis'])

function ascii (buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, end).toString('latin1')
}

function isAvif (buf: Buffer): boolean {
  // [size:4]['ftyp'][major brand:4][minor version:4][compatible brands:4 each...]
  if (buf.length < 16 || ascii(buf, 4, 8) !== 'ftyp') return false
  const boxSize = buf.readUInt32BE(0)
  if (boxSize < 16) return false
  if (AVIF_BRANDS.has(ascii(buf, 8, 12))) return true
  const end = Math.min(boxSize, buf.length)
  for (let i = 16; i + 4 <= end; i += 4) if (AVIF_BRANDS.has(ascii(buf, i, i + 4))) return true
  return false
}

/** The image type the bytes start with, or null when they are none of the accepted types. */
export function sniffImageType (buf: Buffer): ImageType | null {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg'
  if (buf.length >= 8 && buf.subarray(0, 8).equals(PNG)) return 'image/png'
  if (buf.length >= 6 && (ascii(buf, 0, 6) === 'GIF87a' || ascii(buf, 0, 6) === 'GIF89a')) return 'image/gif'
  if (buf.length >= 12 && ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'image/webp'
  if (isAvif(buf)) return 'image/avif'
  return null
}

export interface Dimensions { width: number, height: number }

/** What image-size calls each type, to check it parsed the type we sniffed and not another. */
const IMAGE_SIZE_TYPE: Record<ImageType, string | null> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
  // image-size names AVIF by brand (avif, heif); the ftyp check in sniffImageType decides
  'image/avif': null
}

export const IMAGE_LABEL: Record<ImageType, string> = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/gif': 'GIF',
  'image/webp': 'WebP',
  'image/avif': 'AVIF'
}

/** Width and height from the header bytes, or null when they are not in the bytes we read. */
export function dimensionsOf (buf: Buffer, type?: ImageType): Dimensions | null {
  try {
    const result = imageSize(buf)
    const expected = type === undefined ? null : IMAGE_SIZE_TYPE[type]
    if (expected !== null && result.type !== expected) return null
    const { width, height } = result
    return Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 ? { width, height } : null
  } catch {
    // A partial buffer (the SOF marker of a JPEG after a large EXIF block, say) is not an error
    return null
  }
}

/**
 * Structure right after the magic number, which a file that only starts like an image lacks:
 * - PNG: the first chunk is a 13-byte IHDR whose CRC is right;
 * - GIF: after the screen descriptor and its colour table comes a block (extension, image, trailer);
 * - WebP: a VP8 chunk carries its start code, a VP8L chunk its signature byte;
 * - JPEG: SOI is followed by a marker (APPn, DQT, SOF, COM...), not by text.
 */
function structureOk (buf: Buffer, type: ImageType): boolean {
  switch (type) {
    case 'image/png':
      return buf.length >= 33 && buf.readUInt32BE(8) === 13 && ascii(buf, 12, 16) === 'IHDR' &&
        buf.readUInt32BE(29) === crc32(buf.subarray(12, 29))
    case 'image/gif': {
      if (buf.length < 13) return false
      const packed = buf[10]!
      const table = (packed & 0x80) !== 0 ? 3 * 2 ** ((packed & 0x07) + 1) : 0
      const next = buf[13 + table]
      return next === 0x21 || next === 0x2c || next === 0x3b
    }
    case 'image/webp': {
      const chunk = ascii(buf, 12, 16)
      if (chunk === 'VP8 ') return buf.length >= 30 && buf[23] === 0x9d && buf[24] === 0x01 && buf[25] === 0x2a
      if (chunk === 'VP8L') return buf.length >= 25 && buf[20] === 0x2f
      return chunk === 'VP8X'
    }
    case 'image/jpeg': {
      const marker = buf[3]
      return marker !== undefined && marker >= 0xc0 && marker <= 0xfe && !(marker >= 0xd0 && marker <= 0xd9)
    }
    case 'image/avif':
      return true
  }
}

export type Inspection = { ok: true, dimensions: Dimensions | null } | { ok: false, reason: string }

/**
 * Checks that the header bytes of a file already sniffed as `type` are an image of that type,
 * not just its first few bytes followed by anything (an HTML page after FF D8 FF, say).
 * PNG, GIF and WebP carry their dimensions in the first 30 bytes, and a JPEG in its frame
 * header (SOF), which follows the metadata segments (EXIF, ICC profile...): the caller reads
 * 256 KiB, enough for the metadata real cameras and editors write, so a JPEG whose SOF is not
 * in there is refused rather than let through unchecked. AVIF keeps its size deep in nested
 * boxes that image-size does not always find: an AVIF without dimensions is accepted.
 */
export function inspectImage (buf: Buffer, type: ImageType): Inspection {
  const invalid = { ok: false, reason: `The file is not a valid ${IMAGE_LABEL[type]} image` } as const
  if (!structureOk(buf, type)) return invalid
  const dimensions = dimensionsOf(buf, type)
  if (dimensions === null && type !== 'image/avif') {
    return { ok: false, reason: `${invalid.reason}: its header does not give the image size${type === 'image/jpeg' ? ` within the first ${buf.length} bytes` : ''}` }
  }
  return { ok: true, dimensions }
}
