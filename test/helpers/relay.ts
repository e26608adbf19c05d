// A TCP relay in front of a real local service (s3rver), so a drill can take the service away
// from a running app and bring it back, as a real outage does: the app boots against a healthy
// endpoint, holds kept-alive connections to it, and then loses it.
//
//   up    relays bytes both ways;
//   down  stops listening and resets (RST) every relayed connection: new connections are
//         refused (ECONNREFUSED), as from a host with nothing on the port;
//   hang  accepts connections and answers nothing on any, old or new: bytes are held, as
//         behind a black-holed route or a stuck load balancer.
//
// Hand-written: fault proxies such as Toxiproxy are a separate server binary (not in Debian or
// the npm registry), and the relay is a few lines of node:net.
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export type RelayMode = 'up' | 'down' | 'hang'

export interface Relay {
  /** http://127.0.0.1:<port>, the relay's endpoint */
  url: string
  port: number
  mode: () => RelayMode
  /** Connections the relay has accepted so far. */
  accepted: () => number
  /** Changes take effect in the order called; each resolves once it has. */
  set: (mode: RelayMode) => Promise<void>
  close: () => Promise<void>
}

interface Pair { client: Socket, upstream?: Socket }

export async function startRelay (target: URL | string, { host = '127.0.0.1' }: { host?: string } = {}): Promise<Relay> {
  const to = new URL(target)
  const pairs = new Set<Pair>()
  let mode: RelayMode = 'up'
  let accepted = 0
  let port = 0
  let server: Server | undefined
  // set() and close() one at a time, so a close cannot overtake a re-listen
  let queue: Promise<void> = Promise.resolve()
  const serial = async (fn: () => Promise<void>) => {
    const run = queue.then(fn)
    queue = run.catch(() => {})
    await run
  }

  const stall = (pair: Pair) => {
    pair.client.unpipe()
    pair.upstream?.unpipe()
    pair.client.pause()
    pair.upstream?.pause()
  }
  const reset = (pair: Pair) => {
    pair.client.resetAndDestroy()
    pair.upstream?.resetAndDestroy()
    pairs.delete(pair)
  }

  const onConnection = (client: Socket) => {
    accepted++
    const pair: Pair = { client }
    pairs.add(pair)
    client.on('error', () => {})
    client.on('close', () => { pairs.delete(pair); pair.upstream?.destroy() })
    if (mode === 'hang') { client.pause(); return }
    const upstream = connect(Number(to.port), to.hostname)
    pair.upstream = upstream
    upstream.on('error', () => {})
    // A clean end reaches the client through the pipe (queued bytes first); an error does not
    upstream.on('close', (hadError) => { if (hadError) client.destroy() })
    client.pipe(upstream)
    upstream.pipe(client)
  }

  const listen = async () => {
    const next = createServer(onConnection)
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject)
      next.listen(port, host, () => { next.off('error', reject); resolve() })
    })
    server = next
    port = (next.address() as AddressInfo).port
  }
  const unlisten = async () => {
    const current = server
    server = undefined
    if (current) await new Promise<void>(resolve => current.close(() => resolve()))
  }
  await listen()

  return {
    url: `http://${host}:${port}`,
    port,
    mode: () => mode,
    accepted: () => accepted,
    set: async (next) => {
      await serial(async () => {
        const previous = mode
        if (next === previous) return
        mode = next
        if (next === 'down') {
          for (const pair of [...pairs]) reset(pair)
          await unlisten()
          return
        }
        // Coming back from a hang: the stalled connections are dead to their peers already
        if (previous === 'hang') for (const pair of [...pairs]) reset(pair)
        if (next === 'hang') for (const pair of pairs) stall(pair)
        if (previous === 'down') {
          try { await listen() } catch (err) { mode = 'down'; throw err }
        }
      })
    },
    close: async () => {
      await serial(async () => {
        for (const pair of [...pairs]) reset(pair)
        await unlisten()
        mode = 'down'
      })
    }
  }
}
