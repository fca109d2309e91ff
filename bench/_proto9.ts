import { createSignalingServer } from '../signaling/index.js'
import { startNodeEnv } from './node-env.js'
import { median } from './stats.js'
const S = Number(process.env.S ?? 1)
const poly = (await import('node-datachannel/polyfill')) as unknown as {
  RTCDataChannel: { prototype: object }
}
const proto = poly.RTCDataChannel.prototype
const amount = Object.getOwnPropertyDescriptor(proto, 'bufferedAmount')!
const thr = Object.getOwnPropertyDescriptor(proto, 'bufferedAmountLowThreshold')!
const stored = new WeakMap<object, number>()
Object.defineProperty(proto, 'bufferedAmount', {
  get() {
    return amount.get!.call(this) * S
  },
})
Object.defineProperty(proto, 'bufferedAmountLowThreshold', {
  get() {
    return stored.get(this) ?? 0
  },
  set(v: number) {
    stored.set(this, v)
    thr.set!.call(this, Math.floor(v / S))
  },
})
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const env = await startNodeEnv(server.url)
const MiB = 1024 * 1024
const lat: number[] = [],
  bulk: number[] = []
const idle = await env.a.call('valuePings', 200, 1024)
for (let r = 0; r < 3; r++) {
  await env.b.call('armBulk', 'peerject', 64 * MiB)
  const l = await env.a.call('pingsDuringBulk', 64 * MiB, 1024)
  await env.b.call('result')
  lat.push(...l.samples)
  bulk.push(l.bulkMs)
}
console.log(
  `effective HWM ${1024 / S} KiB: idle ${median(idle).toFixed(2)} ms, loaded ${median(lat).toFixed(1)} ms, 64 MiB send took [${bulk.map((b) => b.toFixed(0))}] ms`,
)
await env.close()
await server.close()
process.exit(0)
