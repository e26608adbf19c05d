// A signal for the work a handler does on behalf of one request, aborted when nobody will read
// the result: the handler timed out, or the client went away.
//
// Why not request.signal: Fastify 5.12 aborts it on the raw request's 'close', which Node emits
// as soon as a request body has been read, so every POST/PATCH with a body (even
// content-length: 0) gets an already-aborted signal and cancels its own queries.
// @see https://github.com/fastify/fastify/pull/6725
import type { IncomingMessage, ServerResponse } from 'node:http'

export function workSignal (request: { signal: AbortSignal, raw: IncomingMessage }, response: ServerResponse): AbortSignal {
  const ac = new AbortController()
  const onRequestAbort = () => {
    const reason: unknown = request.signal.reason
    const timedOut = (reason as { code?: unknown } | undefined)?.code === 'FST_ERR_HANDLER_TIMEOUT'
    // The body-read 'close' leaves the socket open and the request complete: not an abort
    if (timedOut || (request.raw.destroyed && !request.raw.complete)) ac.abort(reason)
  }
  if (request.signal.aborted) onRequestAbort()
  else request.signal.addEventListener('abort', onRequestAbort, { once: true })
  // The response closed (a timeout answer was sent, or the socket died): the work is moot
  response.once('close', () => { if (!ac.signal.aborted) ac.abort(new Error('response closed')) })
  return ac.signal
}
