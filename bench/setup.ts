// What the benchmarks send and how they run the API, shared by bench/run.ts (throughput) and
// bench/instructions.ts (instruction counts), so that both measure the same server.

// What browsers and the apps' HTTP stacks (OkHttp, URLSession) send; every load run sends it,
// the hello world's included (its 17-byte body goes out as it is either way). A header given
// as '' is left out: one row measures the list for a client that sends no Accept-Encoding.
export const CLIENT_HEADERS: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br, zstd' }

/** The built API's environment under benchmark: the services' settings, logging at info, no rate limit. */
export function benchApiEnv (servicesEnv: Record<string, string>, overrides: Record<string, string> = {}): Record<string, string> {
  return { ...servicesEnv, LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false', ENVIRONMENT: 'development', ...overrides }
}
