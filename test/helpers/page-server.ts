/**
 * A Vite dev server for browser tests: serves test/browser/pages with `peerject` resolving to src/
 * (as the demo does). Listens on 127.0.0.1, port 0.
 */
import { createServer } from 'vite'
import type { ViteDevServer } from 'vite'

/** Starts the test page server; `url` ends with a slash. */
export async function startPageServer(): Promise<{ url: string; server: ViteDevServer }> {
  const server = await createServer({
    configFile: false,
    root: new URL('../browser/pages', import.meta.url).pathname,
    resolve: { alias: { peerject: new URL('../../src/index.ts', import.meta.url).pathname } },
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    logLevel: 'error',
    clearScreen: false,
  })
  await server.listen()
  const address = server.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') {
    throw new Error('page server has no address')
  }
  return { url: `http://127.0.0.1:${address.port}/`, server }
}
