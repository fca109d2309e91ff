import { createSignalingServer } from '../signaling/index.js'
import { startNodeEnv } from './node-env.js'
const poly = (await import('node-datachannel/polyfill')) as unknown as {
  RTCDataChannel: { prototype: { send(d: unknown): void } }
}
let sends = 0
const orig = poly.RTCDataChannel.prototype.send
poly.RTCDataChannel.prototype.send = function (d) {
  sends++
  return orig.call(this, d)
}
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const env = await startNodeEnv(server.url)
await env.a.call('callBurst', 'rpc', 1000, 500)
await env.a.call('callBurst', 'raw', 1000, 500)
for (const [mode, w] of [
  ['rpc', 500],
  ['raw', 500],
  ['rpc', 1],
  ['raw', 1],
] as const) {
  sends = 0
  const t = await env.a.call('callBurst', mode, 5000, w)
  console.log(
    mode,
    'window',
    w,
    t.toFixed(0),
    'ms',
    'channel sends per call (both directions):',
    (sends / 5000).toFixed(2),
  )
}
sends = 0
await env.b.call('armCount', 'peerject', 20000)
const s = await env.a.call('sendSmall', 'peerject', 20000, 1024)
console.log('small peerject', ((await env.b.call('result')) - s).toFixed(0), 'ms; sends', sends)
sends = 0
await env.b.call('armCount', 'raw', 20000)
const s2 = await env.a.call('sendSmall', 'raw', 20000, 1024)
console.log('small raw', ((await env.b.call('result')) - s2).toFixed(0), 'ms; sends', sends)
await env.close()
await server.close()
