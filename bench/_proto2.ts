import { createSignalingServer } from '../signaling/index.js'
import { startBrowsers } from './browser-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
let t = performance.now()
const browsers = await startBrowsers()
console.log('browsers', performance.now() - t)
t = performance.now()
const env = await browsers.openEnv(server.url)
console.log('env', performance.now() - t, env.info)
const MiB = 1024 * 1024
for (const total of [8 * MiB, 32 * MiB, 32 * MiB]) {
  for (const mode of ['raw', 'peerject'] as const) {
    await env.b.call('armBulk', mode, total)
    const start = await env.a.call('sendBulk', mode, total, env.info.chunkBytes)
    const end = await env.b.call('result')
    console.log(
      mode,
      total / MiB,
      'MiB',
      (end - start).toFixed(0),
      'ms',
      (total / MiB / ((end - start) / 1000)).toFixed(1),
      'MiB/s',
    )
  }
}
for (const mode of ['raw', 'peerject'] as const) {
  await env.b.call('armCount', mode, 20000)
  const start = await env.a.call('sendSmall', mode, 20000, 1024)
  const end = await env.b.call('result')
  console.log('small', mode, (end - start).toFixed(0), 'ms')
}
const rt = await env.a.call('roundTrips', 200)
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]
console.log('rt raw', med(rt.raw), 'rpc', med(rt.rpc), 'chain', med(rt.chain))
console.log(
  'burst rpc',
  await env.a.call('callBurst', 'rpc', 5000, 500),
  'raw',
  await env.a.call('callBurst', 'raw', 5000, 500),
)
console.log('idle', med(await env.a.call('valuePings', 200, 1024)))
await env.b.call('armBulk', 'peerject', 64 * MiB)
const l = await env.a.call('pingsDuringBulk', 64 * MiB, 1024)
await env.b.call('result')
console.log('loaded', l.samples.length, med(l.samples), l.bulkMs)
await env.close()
await browsers.close()
await server.close()
