// build(t): the same buildApp as server.ts, with the real local services, closed after the test.
import type { TestContext } from 'node:test'
import { buildApp, type AppOptions, type App } from '../../app.ts'
import { testConfig, getServices, type TestServices } from './services.ts'

export interface Built { app: App, services: TestServices }

export async function build (t: TestContext | { after: (fn: () => unknown) => void }, env: Record<string, string> = {}, options: AppOptions = {}): Promise<Built> {
  const config = await testConfig(env)
  const app = await buildApp(config, { logger: false, ...options })
  t.after(() => app.close())
  await app.ready()
  return { app, services: await getServices() }
}

/** Authorization header for a token from the local issuer. */
export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}
