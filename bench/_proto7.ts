import { createSignalingServer } from '../signaling/index.js'
import { startNodeEnv } from './node-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const env = await startNodeEnv(server.url)
for (let i = 0; i < 6; i++) {
  await env.b.call('armCount', 'peerject', 20000)
  const s = await env.a.call('sendSmall', 'peerject', 20000, 1024)
  console.log('small peerject', ((await env.b.call('result')) - s).toFixed(0), 'ms')
}
await env.close()
await server.close()
