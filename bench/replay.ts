// The load generator's own limit, for calibration: a server that does no HTTP work at all and
// answers every request with the same bytes, recorded from a real response (the hello world's,
// or /health's). Loaded like the real servers, its req/s is what the load generator itself can
// reach for a response of that size and shape, and the two replays' ratio is the ceiling the
// load generator alone puts on the real ratio (it parses every response, header lines included).
// Written here because the point is to do less than any HTTP library: no request parsing
// beyond finding where each request ends.
// Usage: RESPONSE_FILE=<raw response bytes> PORT=<port> node bench/replay.ts
import { createServer, connect } from 'node:net'
import { readFileSync } from 'node:fs'

const END = Buffer.from('\r\n\r\n')

/**
 * Counts the requests that end in `chunk` (bodiless requests: each ends at a blank line),
 * given the last three bytes of the previous chunk, so an end split across chunks counts.
 */
export function countRequestEnds (tail: Buffer, chunk: Buffer): { ends: number, tail: Buffer } {
  const data = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk
  let ends = 0
  for (let i = data.indexOf(END); i !== -1; i = data.indexOf(END, i + END.length)) ends++
  const lastEnd = data.lastIndexOf(END)
  // Keep what could be the start of the next end marker, never bytes of one already counted
  const keepFrom = Math.max(data.length - (END.length - 1), lastEnd === -1 ? 0 : lastEnd + END.length)
  return { ends, tail: Buffer.from(data.subarray(keepFrom)) }
}

/** One complete response (status line, headers and a Content-Length body) to GET `path`, as raw bytes. */
export async function recordResponse (port: number, path: string, headers: Record<string, string>): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no complete response from ${path} in 10 s`)) }, 10_000)
    const done = (err?: Error, raw?: Buffer) => { clearTimeout(timer); socket.destroy(); if (err) reject(err); else resolve(raw!) }
    socket.once('error', err => done(err))
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      const raw = Buffer.concat(chunks)
      const headEnd = raw.indexOf(END)
      if (headEnd === -1) return
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(raw.subarray(0, headEnd).toString('latin1'))
      if (!length) return done(new Error(`${path}: response without Content-Length`))
      const total = headEnd + END.length + Number(length[1])
      if (raw.length >= total) done(undefined, Buffer.from(raw.subarray(0, total)))
    })
    const lines = Object.entries({ host: `127.0.0.1:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    socket.write(`GET ${path} HTTP/1.1\r\n${lines}\r\n`)
  })
}

if (import.meta.main) {
  const response = readFileSync(process.env.RESPONSE_FILE ?? '')
  const server = createServer(socket => {
    let tail: Buffer = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      const counted = countRequestEnds(tail, chunk)
      tail = counted.tail
      for (let i = 0; i < counted.ends; i++) socket.write(response)
    })
  })
  process.once('SIGTERM', () => { server.close(); process.exit(0) })
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')
}
