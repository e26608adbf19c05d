// Log lines written to memory, parsed, for tests that assert what the app logs.
import { Writable } from 'node:stream'
import { loggerOptions } from '../../app.ts'
import { testConfig } from './services.ts'

/** A stream that parses each JSON line written to it into `lines`. */
export function memoryStream () {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb() } })
  return { lines, stream }
}

/** The app's own logger options (level, redaction), writing to memory instead of stdout. */
export async function captureLogs (level = 'info') {
  const { lines, stream } = memoryStream()
  const options = loggerOptions(await testConfig({ LOG_LEVEL: level })) as Record<string, unknown>
  return { lines, logger: { ...options, stream } }
}
