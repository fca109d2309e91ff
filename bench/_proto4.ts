import { createSignalingServer } from '../signaling/index.js'
import { joinRoom } from '../src/node.js'
import { benchTarget, createRpcPair, type ByteChannel } from './rpc.js'
import type { Peer, Room } from '../src/index.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const a = await joinRoom({ signaling: server.url, room: 'x' })
const b = await joinRoom({ signaling: server.url, room: 'x' })
const wait = (r: Room, id: string) =>
  new Promise<Peer>((res) => {
    const p = r.peers.get(id as never)
    if (p) return res(p)
    r.on('peer', (p) => p.id === id && res(p))
  })
const [pa, pb] = await Promise.all([wait(a, b.self), wait(b, a.self)])
function channel(peer: Peer, ch: number, blocking: boolean): ByteChannel {
  return {
    send: (bytes) => {
      const p = peer.wire.sendMessage(ch, bytes)
      return blocking ? p : Promise.resolve()
    },
    listen: (l) => {
      peer.wire.on('message', (c, bytes) => {
        if (c === ch) l.message(bytes)
      })
    },
  }
}
for (const [ch, blocking] of [
  [10, true],
  [11, false],
] as const) {
  const pair = createRpcPair(channel(pa, ch, blocking), channel(pb, ch, blocking))
  pair.exportsB.expose('bench', benchTarget)
  const api = pair.a.resolve<typeof benchTarget>('bench')
  await api.echo(1)
  for (const w of [1, 500]) {
    const t = performance.now()
    for (let s = 0; s < 5000; s += w)
      await Promise.all(Array.from({ length: w }, (_, i) => api.echo(s + i)))
    console.log(
      blocking ? 'awaiting send' : 'non-blocking send',
      'window',
      w,
      (performance.now() - t).toFixed(0),
      'ms / 5000 calls',
    )
  }
}
a.leave()
b.leave()
await server.close()
