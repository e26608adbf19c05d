// What the benchmarks send and how they run the API, shared by bench/run.ts (throughput) and
// bench/instructions.ts (instruction counts), so that both measure the same server.
import type postgres from 'postgres'
import { seedGallery, type Seeded } from '../test/helpers/seed.ts'

// What browsers and the apps' HTTP stacks (OkHttp, URLSession) send; every load run sends it,
// the hello world's included (its 17-byte body goes out as it is either way). A header given
// as '' is left out: one row measures the list for a client that sends no Accept-Encoding.
export const CLIENT_HEADERS: Record<string, string> = { 'accept-encoding': 'gzip, deflate, br, zstd' }

/** The benchmarks' gallery: `images` public images in 5 collections, and a tenth as many hidden ones. */
export async function seedBenchGallery (sql: postgres.Sql, images: number): Promise<Seeded> {
  return await seedGallery(sql, { images, collections: 5, hidden: Math.round(images / 10), prefix: 'bench' })
}

/** The built API's environment under benchmark: the services' settings, logging at info, no rate limit. */
export function benchApiEnv (servicesEnv: Record<string, string>, overrides: Record<string, string> = {}): Record<string, string> {
  return { ...servicesEnv, LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false', ENVIRONMENT: 'development', ...overrides }
}
