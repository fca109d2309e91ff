/**
 * Issue 2 over real WebRTC: Node peers (node-datachannel and @roamhq/wrtc) find each other through
 * the real signaling server on port 0 and form a full mesh; leaving is seen by the others.
 */
import { describe, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import { isPeerjectError } from '../../src/errors.js'
import { startSignaling, useSignaling } from '../helpers/signaling.js'
import { nextMessage, waitForLeave, waitForPeers } from '../helpers/events.js'

const server = useSignaling()
const { rooms } = server

async function join(room: string, webrtc: 'node-datachannel' | 'wrtc'): Promise<Room> {
  const joined = await joinRoom({ signaling: server.url, room, webrtc })
  rooms.push(joined)
  return joined
}

describe('Node mesh over real WebRTC', () => {
  it('three peers (both implementations) form a full mesh and see a leave', async () => {
    const a = await join('mesh', 'node-datachannel')
    const b = await join('mesh', 'wrtc')
    const c = await join('mesh', 'node-datachannel')
    await Promise.all([
      waitForPeers(a, [b.self, c.self]),
      waitForPeers(b, [a.self, c.self]),
      waitForPeers(c, [a.self, b.self]),
    ])
    expect([...a.peers.keys()].sort()).toEqual([b.self, c.self].sort())

    // Every link carries data both ways (wrtc ↔ node-datachannel included).
    const received = nextMessage(b, (v) => (v as { from?: string }).from === 'a')
    await a.peers.get(b.self)?.send({ from: 'a' })
    expect((await received).from.id).toBe(a.self)
    const back = nextMessage(a, (v) => (v as { from?: string }).from === 'b')
    await b.peers.get(a.self)?.send({ from: 'b' })
    expect((await back).from.id).toBe(b.self)

    const aSeesLeave = waitForLeave(a, b.self)
    const cSeesLeave = waitForLeave(c, b.self)
    b.leave()
    await Promise.all([aSeesLeave, cSeesLeave])
    expect(a.peers.has(b.self)).toBe(false)
    expect(c.peers.has(b.self)).toBe(false)
    expect(a.peers.has(c.self)).toBe(true)
  })

  it('rooms are isolated', async () => {
    const a = await join('iso-1', 'node-datachannel')
    const b = await join('iso-2', 'node-datachannel')
    const c = await join('iso-1', 'node-datachannel')
    await waitForPeers(a, [c.self])
    expect(a.peers.has(b.self)).toBe(false)
    expect(b.peers.size).toBe(0)
  })

  it('an unreachable signaling server rejects with ERR_SIGNALING', async () => {
    const error = await joinRoom({ signaling: 'ws://127.0.0.1:1', room: 'x' }).catch(
      (e: unknown) => e,
    )
    expect(isPeerjectError(error, 'ERR_SIGNALING')).toBe(true)
  })

  it('a denied token rejects with ERR_DENIED', async () => {
    const guarded = await startSignaling({ verifyToken: (token) => token === 'good' })
    try {
      const error = await joinRoom({ signaling: guarded.url, room: 'x', token: 'bad' }).catch(
        (e: unknown) => e,
      )
      expect(isPeerjectError(error, 'ERR_DENIED')).toBe(true)
      const ok = await joinRoom({ signaling: guarded.url, room: 'x', token: 'good' })
      ok.leave()
    } finally {
      await guarded.close()
    }
  })
})

describe('connection failures', () => {
  it('a peer that never answers gives ERR_CONNECT and a leave, and no ghost', async () => {
    const { WebSocket } = await import('ws')
    const silent = new WebSocket(server.url)
    const silentId = await new Promise<string>((resolve) => {
      silent.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; id?: string }
        if (message.type === 'welcome') silent.send(JSON.stringify({ type: 'join', room: 'ghost' }))
        if (message.type === 'welcome' && message.id !== undefined) resolve(message.id)
      })
    })
    try {
      const room = await joinRoom({ signaling: server.url, room: 'ghost', connectTimeoutMs: 1500 })
      rooms.push(room)
      const [error, left] = await Promise.all([
        new Promise((resolve) => room.once('error', resolve)),
        new Promise((resolve) => room.once('leave', (peer, reason) => resolve({ peer, reason }))),
      ])
      expect(isPeerjectError(error, 'ERR_CONNECT')).toBe(true)
      expect((left as { peer: unknown }).peer).toBe(silentId)
      expect(room.peers.size).toBe(0)
    } finally {
      silent.close()
    }
  })
})
