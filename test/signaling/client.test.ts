/**
 * peerject's signaling client (src/signaling/client.ts) against the real server: a signal that
 * crosses its peer's departure is news of that departure, not an error for the app.
 */
import { afterEach, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { SignalingClient } from '../../src/signaling/client.js'
import type { PeerId } from '../../src/ids.js'
import { Harness } from './helpers.js'

const harness = new Harness()
afterEach(() => harness.cleanup())

it('a signal to a peer that left turns into peer-left, never an error', async () => {
  const server = await harness.server()
  const { client } = await SignalingClient.join({
    url: server.url,
    room: 'churn',
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  })
  try {
    const errors: unknown[] = []
    client.on('error', (error) => errors.push(error))
    const gone = await harness.client(server)
    const joined = new Promise<PeerId>((resolve) => client.once('peer-joined', resolve))
    await gone.join('churn')
    const id = await joined
    gone.ws.close()
    await new Promise<void>((resolve) =>
      client.once('peer-left', (peer) => (peer === id ? resolve() : undefined)),
    )
    // The server already said the peer left; this signal crosses that news and is refused.
    const again = new Promise<PeerId>((resolve) => client.once('peer-left', resolve))
    client.signal(id, { gen: 1, data: 'late' })
    expect(await again).toBe(id)
    expect(errors).toEqual([])
  } finally {
    client.close()
  }
})
