/** Starts the real signaling server on an ephemeral port for one test file. */
import { afterAll, beforeAll } from 'vitest'
import type { Room } from '../../src/index.js'
import { createSignalingServer } from '../../signaling/index.js'
import type { SignalingServer, SignalingServerOptions } from '../../signaling/index.js'

/** A signaling server on 127.0.0.1, port 0. */
export function startSignaling(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  return createSignalingServer({ host: '127.0.0.1', port: 0, ...options })
}

/** What {@link useSignaling} gives a test file. */
export interface SignalingFixture {
  /** The server's `ws://` URL (once the file's `beforeAll` ran). */
  readonly url: string
  /** Rooms the file joined: each is left after the file's tests, before the server closes. */
  readonly rooms: Room[]
  /** The server's HTTP server (its `upgrade` events are the signaling connections). */
  readonly http: SignalingServer['http']
}

/**
 * For the calling test file: starts a signaling server before its tests, and after them leaves
 * every room pushed to `rooms` and closes the server.
 */
export function useSignaling(): SignalingFixture {
  let server: SignalingServer | undefined
  const rooms: Room[] = []
  beforeAll(async () => {
    server = await startSignaling()
  })
  afterAll(async () => {
    for (const room of rooms) room.leave()
    await server?.close()
  })
  return {
    get url() {
      if (server === undefined) throw new Error('the signaling server is not started yet')
      return server.url
    },
    get http() {
      if (server === undefined) throw new Error('the signaling server is not started yet')
      return server.http
    },
    rooms,
  }
}
