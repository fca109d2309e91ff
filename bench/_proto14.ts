import { createSignalingServer } from '../signaling/index.js'
import { startBrowsers } from './browser-env.js'
const server = await createSignalingServer({ host: '127.0.0.1', port: 0 })
const browsers = await startBrowsers()
for (let i = 0; i < 6; i++) {
  const t = performance.now()
  try {
    const env = await browsers.openEnv(server.url)
    console.log('ok', (performance.now() - t).toFixed(0))
    await env.close()
  } catch (e) {
    console.log('fail', (performance.now() - t).toFixed(0), String(e).slice(0, 300))
  }
}
await browsers.close()
await server.close()
process.exit(0)
