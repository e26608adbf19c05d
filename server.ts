// Web process: load config once, build the app, bind 0.0.0.0:$PORT, close gracefully.
// With WEB_CONCURRENCY > 1 the primary forks that many workers (node:cluster), as Heroku's
// Node.js guidance recommends; each worker holds its own DATABASE_POOL_MAX connections.
// @see https://devcenter.heroku.com/articles/node-concurrency
// @see https://devcenter.heroku.com/articles/dyno-shutdown-behavior
import cluster from 'node:cluster'
import type { Config } from './lib/config.ts'
import { useCompileCache } from './lib/compile-cache.ts'

// Before the app's modules are loaded (hence the dynamic imports): V8 code made at build time
const compileCache = useCompileCache(import.meta.dirname, import.meta.url)
const { loadConfigOrReport } = await import('./lib/config.ts')
const { buildApp } = await import('./app.ts')
const { default: closeWithGrace } = await import('close-with-grace')

async function startWorker (config: Config): Promise<void> {
  const app = await buildApp(config)
  // close-with-grace bounds the close with a delay (a handler that never returns cannot hold
  // the dyno) and handles errors and other signals. SIGTERM is ours: Heroku may send it more
  // than once (and the cluster primary forwards it), and close-with-grace exits at once on a
  // second signal, which would cut the in-flight requests we are draining.
  const closer = closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: app.log, skip: ['SIGTERM'] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after error')
    else app.log.info({ signal: signal ?? 'SIGTERM' }, 'shutting down: draining in-flight requests')
    await app.close()
  })
  let terminating = false
  process.on('SIGTERM', () => {
    if (terminating) { app.log.info('repeated SIGTERM ignored; still draining'); return }
    terminating = true
    closer.close()
  })
  await app.listen({ host: '0.0.0.0', port: config.PORT })
  app.log.info({ address: app.server.address(), environment: config.ENVIRONMENT, compileCache }, 'bound')
}

function startPrimary (config: Config): void {
  let stopping = false
  for (let i = 0; i < config.WEB_CONCURRENCY; i++) cluster.fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    cluster.fork()
  })
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    console.log(`primary received ${signal}; waiting for workers`)
    // Heroku signals every process of the dyno, workers included; forward in case it did not
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM')
    setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS + 2000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

const config = loadConfigOrReport() ?? process.exit(2)
if (config.WEB_CONCURRENCY > 1 && cluster.isPrimary) startPrimary(config)
else await startWorker(config)
