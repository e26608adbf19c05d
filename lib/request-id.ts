import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

// Heroku keeps a client's X-Request-ID only when it is 20-200 characters of this set;
// anything else (CRLF injection, 10 KB values, short guesses) is replaced by our own id.
// @see https://devcenter.heroku.com/articles/http-request-id
const VALID_REQUEST_ID = /^[A-Za-z0-9+/=-]{20,200}$/

export function genRequestId (req: IncomingMessage): string {
  const header = req.headers['x-request-id']
  return typeof header === 'string' && VALID_REQUEST_ID.test(header) ? header : randomUUID()
}
