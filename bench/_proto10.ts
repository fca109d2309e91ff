import { createSignalingServer } from '../signaling/index.js'
import { joinRoom } from '../src/node.js'
import type { Peer, Room } from '../src/index.js'
import { median } from './stats.js'
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
const oneWay: number[] = [],
  back: number[] = [],
  handed: number[] = []
b.on('message', (v) => {
  const p = v as { ping?: number; t?: number }
  if (p.ping !== undefined) {
    oneWay.push(performance.now() - p.t!)
    void pb.send({ pong: p.ping, t: performance.now() })
  }
})
let waiter: ((t: number) => void) | undefined
a.on('message', (v) => {
  const p = v as { pong?: number; t?: number }
  if (p.pong !== undefined) {
    back.push(performance.now() - p.t!)
    waiter?.(0)
  }
})
const big = new Uint8Array(64 * 1024 * 1024)
let sending = true
const bulk = pa.send({ data: big }).finally(() => (sending = false))
const pad = new Uint8Array(1024)
let i = 0
while (sending) {
  const t = performance.now()
  const got = new Promise((r) => (waiter = r))
  await pa.send({ ping: i++, t, pad })
  handed.push(performance.now() - t)
  await got
}
await bulk
console.log(
  `pings ${i}: A→B one-way ${median(oneWay).toFixed(1)} ms (peer.send resolved after ${median(handed).toFixed(1)} ms), B→A ${median(back).toFixed(1)} ms`,
)
a.leave()
b.leave()
await server.close()
process.exit(0)
