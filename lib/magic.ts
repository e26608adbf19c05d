// Magic-number sniffing for the raster types we accept: the Content-Type a client declares is
// never trusted, the first bytes of the stored object are.
// @see https://cheatsheetseries.owasp.org/cheatsheets/File_Upload_Cheat_Sheet.html
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

/** Width and height from the header bytes, or null when they are not in the bytes we read. */
export function dimensionsOf (buf: Buffer): { width: number, height: number } | null {
  try {
    const { width, height } = imageSize(buf)
    return Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 ? { width, height } : null
  } catch {
    // A partial buffer (the SOF marker of a JPEG after a large EXIF block, say) is not an error
    return null
  }
}
