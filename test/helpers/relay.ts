// A TCP relay in front of a real local service (s3rver), so a drill can take the service away
// from a running app and bring it back, as a real outage does: the app boots against a healthy
// endpoint, holds kept-alive connections to it, and then loses it.
//
//   up    relays bytes both ways;
//   down  stops listening and resets every relayed connection: new connections are refused
//         (ECONNREFUSED), as from a host with nothing on the port;
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
  mode: () => RelayMode
  /** Connections the relay has accepted so far. */
  accepted: () => number
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

  const stall = (pair: Pair) => {
    pair.client.unpipe()
    pair.upstream?.unpipe()
    pair.client.pause()
    pair.upstream?.pause()
  }
  const drop = (pair: Pair) => {
    pair.client.destroy()
    pair.upstream?.destroy()
    pairs.delete(pair)
  }

  const onConnection = (client: Socket) => {
    accepted++
    const pair: Pair = { client }
    pairs.add(pair)
    client.on('error', () => {})
    client.on('close', () => { drop(pair) })
    if (mode === 'hang') { client.pause(); return }
    const upstream = connect(Number(to.port), to.hostname)
    pair.upstream = upstream
    upstream.on('error', () => {})
    upstream.on('close', () => { drop(pair) })
    client.pipe(upstream)
    upstream.pipe(client)
  }

  let server: Server
  const listen = async () => {
    server = createServer(onConnection)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
    port = (server.address() as AddressInfo).port
  }
  const unlisten = async () => {
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
  await listen()

  return {
    url: `http://${host}:${port}`,
    mode: () => mode,
    accepted: () => accepted,
    set: async (next) => {
      if (next === mode) return
      const previous = mode
      mode = next
      if (next === 'down') {
        for (const pair of [...pairs]) drop(pair)
        await unlisten()
        return
      }
      // Coming back from a hang: the stalled connections are dead to their peers already
      if (previous === 'hang') for (const pair of [...pairs]) drop(pair)
      if (previous === 'down') await listen()
      if (next === 'hang') for (const pair of pairs) stall(pair)
    },
    close: async () => {
      for (const pair of [...pairs]) drop(pair)
      if (mode !== 'down') await unlisten()
      mode = 'down'
    }
  }
}
