import { createSignalingServer } from '../signaling/index.js'
import { joinRoom } from '../src/node.js'
import { benchTarget, createRpcPair, type ByteChannel } from './rpc.js'
import type { Peer, Room } from '../src/index.js'
const poly = (await import('node-datachannel/polyfill')) as unknown as {
  RTCDataChannel: { prototype: { send(d: unknown): void } }
}
let sends = 0
const orig = poly.RTCDataChannel.prototype.send
poly.RTCDataChannel.prototype.send = function (d) {
  sends++
  return orig.call(this, d)
}
// in-process microtask channel
function micro(): [ByteChannel, ByteChannel] {
  const l: Array<{ message(b: Uint8Array): void } | undefined> = [undefined, undefined]
  const mk = (me: number): ByteChannel => ({
    send: async (b) => {
      queueMicrotask(() => l[1 - me]?.message(b))
    },
    listen: (x) => {
      l[me] = x
    },
  })
  return [mk(0), mk(1)]
}
{
  const [x, y] = micro()
  const pair = createRpcPair(x, y)
  pair.exportsB.expose('bench', benchTarget)
  const api = pair.a.resolve<typeof benchTarget>('bench')
  for (let i = 0; i < 2000; i++) await api.echo(i)
  const t = performance.now()
  for (let i = 0; i < 5000; i++) await api.echo(i)
  console.log(
    'rpc layer alone (microtask channel): per call',
    (((performance.now() - t) / 5000) * 1000).toFixed(1),
    'µs',
  )
}
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
  const q: Uint8Array[] = []
  let sched = false
  return {
    send: (bytes) => {
      if (blocking) return peer.wire.sendMessage(ch, bytes)
      q.push(bytes)
      if (!sched) {
        sched = true
        setImmediate(() => {
          sched = false
          for (const m of q.splice(0)) void peer.wire.sendMessage(ch, m)
        })
      }
      return Promise.resolve()
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
  [12, true],
  [13, false],
] as const) {
  const pair = createRpcPair(channel(pa, ch, blocking), channel(pb, ch, blocking))
  pair.exportsB.expose('bench', benchTarget)
  const api = pair.a.resolve<typeof benchTarget>('bench')
  for (let i = 0; i < 200; i++) await api.echo(i)
  sends = 0
  let t = performance.now()
  for (let i = 0; i < 2000; i++) await api.echo(i)
  const seq = (performance.now() - t) / 2000
  const seqSends = sends / 2000
  sends = 0
  t = performance.now()
  for (let s = 0; s < 3000; s += 500)
    await Promise.all(Array.from({ length: 500 }, (_, i) => api.echo(s + i)))
  console.log(
    blocking
      ? 'rpc as the room wires it (send awaited)'
      : 'rpc, messages handed to the wire together (setImmediate)',
    `sequential ${seq.toFixed(3)} ms/call, ${seqSends.toFixed(2)} channel sends/call; 500 in flight: ${(((performance.now() - t) / 3000) * 1000).toFixed(0)} µs/call, ${(sends / 3000).toFixed(2)} sends/call`,
  )
}
a.leave()
b.leave()
await server.close()
process.exit(0)
