// Node's module compile cache for the built server: V8 code for every module, made when the
// server is built and read at each boot, so a dyno does not parse and compile ~4 MB of bundled
// JavaScript again on every start (measured: ~60 ms, a tenth of the built server's boot).
// @see https://nodejs.org/docs/latest-v24.x/api/module.html#module-compile-cache
//
// The build fills dist/.compile-cache by running dist/bin/precompile-schemas.js, which loads
// the app the way a boot does, with the Procfile web line's node flags: V8 keeps one cache per
// set of flags, so a cache made with other flags would never be read. Portable: entries are
// keyed by paths relative to the cache, so the slug built in /tmp/build_* still finds them in
// /app. A stale or missing entry is compiled as usual (Node checks each against its source).
import { enableCompileCache, constants } from 'node:module'
import { join } from 'node:path'

export const COMPILE_CACHE_DIR = '.compile-cache'

const STATUS: Record<number, string> = Object.fromEntries(Object.entries(constants.compileCacheStatus).map(([name, value]) => [value, name.toLowerCase()]))

/**
 * Enables the cache in <distDir>/.compile-cache when `entryUrl` is built code; the TypeScript
 * sources (tests, npm run dev) run without it. Call before importing the app's modules.
 */
export function useCompileCache (distDir: string, entryUrl: string): string {
  if (!entryUrl.endsWith('.js')) return 'off'
  const result = enableCompileCache({ directory: join(distDir, COMPILE_CACHE_DIR), portable: true })
  return STATUS[result.status] ?? String(result.status)
}
