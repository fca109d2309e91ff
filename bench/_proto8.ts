import { createSignalingServer } from '../signaling/index.js'
import { startBrowsers } from './browser-env.js'
import { startNodeEnv } from './node-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const browsers = await startBrowsers()
const MiB = 1024 * 1024
for (const env of [await startNodeEnv(server.url), await browsers.openEnv(server.url)]) {
  for (let r = 0; r < 4; r++)
    for (const mode of ['raw', 'peerject'] as const) {
      const total = 32 * MiB
      await env.b.call('armBulk', mode, total)
      const start = await env.a.call('sendBulk', mode, total, env.info.chunkBytes)
      const end = await env.b.call('result')
      console.log(env.name, mode, (end - start).toFixed(0), 'ms')
    }
  await env.close()
}
await browsers.close()
await server.close()
