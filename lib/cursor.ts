// Opaque keyset cursors: base64url of the last row's (position, id). Clients must treat them
// as opaque; the server validates every part, so a forged or truncated cursor is a 400.
import { Errors } from './errors.ts'

export interface Cursor { position: number, id: string }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** The longest cursor accepted; the server makes them of at most 64 characters. */
export const CURSOR_MAX_LENGTH = 200
const BASE64URL = new RegExp(`^[A-Za-z0-9_-]{1,${CURSOR_MAX_LENGTH}}$`)
const INT32_MIN = -2_147_483_648
const INT32_MAX = 2_147_483_647

export function encodeCursor ({ position, id }: Cursor): string {
  return Buffer.from(`${position}:${id}`, 'utf8').toString('base64url')
}

/**
 * Decode a client cursor; throws a 400 for anything the server did not produce. No cursor (an
 * absent query parameter) decodes to none.
 */
export function decodeCursor (value: string): Cursor
export function decodeCursor (value: string | undefined): Cursor | undefined
export function decodeCursor (value: string | undefined): Cursor | undefined {
  if (value === undefined) return undefined
  const invalid = () => new Errors.BadRequest('Invalid cursor')
  if (!BASE64URL.test(value)) throw invalid()
  const text = Buffer.from(value, 'base64url').toString('utf8')
  const sep = text.indexOf(':')
  if (sep < 1) throw invalid()
  const positionText = text.slice(0, sep)
  const id = text.slice(sep + 1)
  if (!/^-?\d{1,10}$/.test(positionText) || !UUID.test(id)) throw invalid()
  const position = Number(positionText)
  if (position < INT32_MIN || position > INT32_MAX) throw invalid()
  return { position, id }
}

export function isUuid (value: string): boolean {
  return UUID.test(value.toLowerCase())
}
