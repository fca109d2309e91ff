import { createSignalingServer } from '../signaling/index.js'
import { startNodeEnv } from './node-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const env = await startNodeEnv(server.url)
for (const [total, w] of [
  [1000, 100],
  [1000, 500],
  [1000, 1000],
  [5000, 500],
  [5000, 50],
  [5000, 10],
  [5000, 1],
]) {
  console.log(
    total,
    w,
    'rpc',
    (await env.a.call('callBurst', 'rpc', total, w)).toFixed(0),
    'raw',
    (await env.a.call('callBurst', 'raw', total, w)).toFixed(0),
  )
}
await env.close()
await server.close()
