// The baseline: a bare Fastify hello world (no logger, no plugins), in its own process.
// Every API figure in the benchmark is reported as a ratio to this server's req/s.
import Fastify from 'fastify'

const app = Fastify()
app.get('/', async () => ({ hello: 'world' }))
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
