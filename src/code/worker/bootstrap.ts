/**
 * The browser worker's entry module (see `../browser-host.ts`), in a module of its own so that
 * bundlers put it, Comlink's source and the runtime's into a chunk loaded on the first run.
 */
import { COMLINK_SOURCE } from './comlink-source.js'
import { RUNTIME_SOURCE } from './runtime.js'

/** The worker's entry module: loads Comlink, then hands the control port to the runtime. */
export const WORKER_BOOTSTRAP = `const first = new Promise((resolve) => self.addEventListener('message', (event) => resolve(event.ports[0]), { once: true }))
const moduleUrl = (source) => URL.createObjectURL(new Blob([source], { type: 'text/javascript' }))
const Comlink = await import(moduleUrl(${JSON.stringify(COMLINK_SOURCE)}))
const report = (what) => (event) => {
  event.preventDefault()
  console.error('peerject: ' + what + ' in a code object:', event.error ?? event.reason ?? event.message)
}
self.addEventListener('error', report('uncaught exception'))
self.addEventListener('unhandledrejection', report('unhandled rejection'))
await (${RUNTIME_SOURCE})(await first, { Comlink, moduleUrl })
`
