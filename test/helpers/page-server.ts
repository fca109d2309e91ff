/**
 * A Vite dev server for browser tests: serves test/browser/pages with `peerject` resolving to src/
 * (as the demo does). Listens on 127.0.0.1, port 0.
 *
 * Each server gets its own dependency cache in a temporary directory (removed on close): test
 * files run in parallel, and Vite servers sharing one cache invalidate each other's optimized
 * dependencies, which reloads pages mid-test on a fresh clone. simple-peer's bundle (reached
 * through the `#simple-peer` subpath import, which the dependency scanner does not follow) and
 * peerjs are optimized up front for the same reason.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'vite'
import type { InlineConfig, ViteDevServer } from 'vite'

/** Dependencies to optimize at start instead of on discovery (which reloads open pages). */
export const PREBUNDLED = ['simple-peer/simplepeer.min.js', 'peerjs', 'msgpackr', 'comlink']

/**
 * Starts a Vite dev server from `config` on 127.0.0.1, port 0, with a dependency cache of its own
 * (removed on close) and {@link PREBUNDLED} optimized up front. `url` ends with a slash.
 */
export async function startViteServer(
  config: InlineConfig,
): Promise<{ url: string; server: ViteDevServer }> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'peerject-vite-'))
  const server = await createServer({
    ...config,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    cacheDir,
    optimizeDeps: { include: PREBUNDLED },
    logLevel: 'error',
    clearScreen: false,
  })
  const close = server.close.bind(server)
  server.close = async () => {
    await close()
    rmSync(cacheDir, { recursive: true, force: true })
  }
  await server.listen()
  const address = server.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') {
    await server.close()
    throw new Error(`the Vite server for ${String(config.root)} has no address`)
  }
  return { url: `http://127.0.0.1:${address.port}/`, server }
}

/** Starts the test page server; `url` ends with a slash. */
export function startPageServer(): Promise<{ url: string; server: ViteDevServer }> {
  return startViteServer({
    configFile: false,
    root: new URL('../browser/pages', import.meta.url).pathname,
    resolve: { alias: { peerject: new URL('../../src/index.ts', import.meta.url).pathname } },
  })
}
