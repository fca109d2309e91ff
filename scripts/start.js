// `npm start`: the signaling server and the demo page (Vite dev server), plus one Node peer in the
// demo room. Prints the URL to open. Ports: PEERJECT_PORT (signaling, default 8787) and
// DEMO_PORT (page, default 5173); 0 picks free ones.
import { createServer } from 'vite'
import { createSignalingServer } from '../dist/signaling/index.js'
import { startDemoPeer } from './demo-peer.js'

const signaling = await createSignalingServer({
  host: process.env.PEERJECT_HOST ?? '127.0.0.1',
  port: Number(process.env.PEERJECT_PORT ?? 8787),
})
const vite = await createServer({
  configFile: new URL('../vite.config.ts', import.meta.url).pathname,
  server: { port: Number(process.env.DEMO_PORT ?? 5173), strictPort: false },
  define: { 'import.meta.env.VITE_SIGNALING_URL': JSON.stringify(signaling.url) },
})
await vite.listen()
const pageUrl = vite.resolvedUrls?.local[0] ?? `http://127.0.0.1:${vite.config.server.port}/`
// The Node peer exposes the same counter and board classes as the pages (loaded through Vite).
const { SharedBoard, SharedCounter } = await vite.ssrLoadModule('/shared-objects.ts')
const peer = await startDemoPeer(signaling.url, 'demo', {
  counter: new SharedCounter(),
  board: new SharedBoard(),
})

console.log(`peerject signaling server: ${signaling.url}`)
console.log(`demo page: ${pageUrl}?room=demo   (open it in two tabs)`)
console.log('a Node peer is in room "demo"; press Ctrl+C to stop')

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  peer.leave()
  await vite.close()
  await signaling.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
