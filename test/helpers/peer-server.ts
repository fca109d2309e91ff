/**
 * Starts a real PeerServer (npm `peer`) on 127.0.0.1, port 0, with discovery on, for the PeerJS
 * adapter's tests. `dropClient(id)` cuts one client off (a crash, as the server sees it); `close()`
 * drops every client socket and stops listening. (The `peer` package
 * keeps two housekeeping timers it offers no way to stop; they die with the test worker.)
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PeerServer } from 'peer'
import type { IClient } from 'peer'
import { WebSocketServer } from 'ws'

/** A running PeerServer: what a client needs to reach it, and how to stop it. */
export interface RunningPeerServer {
  readonly port: number
  readonly path: string
  readonly key: string
  /** Cuts one client's socket, as a crashed or closed peer would; false if no such client. */
  dropClient(id: string): boolean
  close(): Promise<void>
}

/** Options for {@link startPeerServer}. */
export interface PeerServerTestOptions {
  /** Default true: the PeerJS adapter needs the peer list. False to test its error. */
  readonly allowDiscovery?: boolean
}

/** Starts a PeerServer (with `allow_discovery: true` unless told otherwise). */
export function startPeerServer(options: PeerServerTestOptions = {}): Promise<RunningPeerServer> {
  const path = '/'
  const key = 'peerject-test'
  let sockets: WebSocketServer | undefined
  const clients = new Map<string, IClient>()
  return new Promise((resolve, reject) => {
    const app = PeerServer(
      {
        host: '127.0.0.1',
        port: 0,
        path,
        key,
        allow_discovery: options.allowDiscovery ?? true,
        createWebSocketServer: (options) => {
          sockets = new WebSocketServer(options)
          return sockets
        },
      },
      (server: Server) => {
        const { port } = server.address() as AddressInfo
        resolve({
          port,
          path,
          key,
          dropClient: (id) => {
            const socket = clients.get(id)?.getSocket()
            if (socket === null || socket === undefined) return false
            socket.terminate()
            return true
          },
          close: () =>
            new Promise<void>((done) => {
              for (const client of sockets?.clients ?? []) client.terminate()
              server.closeAllConnections()
              server.close(() => done())
            }),
        })
      },
    )
    app.on('error', reject)
    app.on('connection', (client) => void clients.set(client.getId(), client))
    app.on('disconnect', (client) => void clients.delete(client.getId()))
  })
}
