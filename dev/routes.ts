// Development-only routes, registered by dev/start.ts through buildApp's `extend` hook;
// never part of the production build.
import type { App } from '../app.ts'
import type { Services } from './services.ts'

export function registerDevRoutes (app: App, services: Services): void {
  app.get('/dev/token', { schema: { hide: true } }, async () => ({ access_token: services.issuer.token({ permissions: ['write:gallery'] }) }))
}
