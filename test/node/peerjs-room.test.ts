import { afterAll, beforeAll, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import { startPeerServer } from '../helpers/peer-server.js'
import type { RunningPeerServer } from '../helpers/peer-server.js'
import { waitForPeers } from '../helpers/events.js'

let server: RunningPeerServer
const rooms: Room[] = []

beforeAll(async () => {
  server = await startPeerServer()
})
afterAll(async () => {
  for (const room of rooms) room.leave()
  await server.close()
})

async function join(room: string, webrtc: 'node-datachannel' | 'wrtc' = 'node-datachannel') {
  const joined = await joinRoom({
    room,
    webrtc,
    peerjs: { host: '127.0.0.1', port: server.port, path: server.path, key: server.key },
    connectTimeoutMs: 10_000,
  })
  rooms.push(joined)
  return joined
}

it('proto', async () => {
  const a = await join('p', (process.env.A ?? 'node-datachannel') as 'wrtc')
  const b = await join('p', (process.env.B ?? 'node-datachannel') as 'wrtc')
  console.log(String(globalThis.RTCPeerConnection))
  await Promise.all([waitForPeers(a, [b.self]), waitForPeers(b, [a.self])])
  const big = new Uint8Array(8 * 1024 * 1024)
  const t0 = performance.now()
  const got = new Promise((r) => b.on('message', (v) => r(v)))
  await a.peers.get(b.self)?.send(big)
  await got
  console.log('8MiB ms', performance.now() - t0)
})
