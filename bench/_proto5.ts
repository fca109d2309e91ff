import { createSignalingServer } from '../signaling/index.js'
import { startNodeEnv } from './node-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const env = await startNodeEnv(server.url)
await env.a.call('callBurst', 'rpc', 1000, 500)
const t = performance.now()
for (let i = 0; i < 4; i++) await env.a.call('callBurst', 'rpc', 5000, 500)
console.log('rpc', performance.now() - t)
await env.close()
await server.close()
