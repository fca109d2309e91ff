/**
 * The demo page (vite.config.ts, root `demo/`) on a Vite dev server at 127.0.0.1, port 0, and a
 * way to open it in a fresh browser context joined to a room through a given signaling server.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'vite'
import type { ViteDevServer } from 'vite'
import type { Browser, Page } from 'playwright-core'
import type { PeerId } from '../../src/ids.js'
import { PREBUNDLED } from './page-server.js'

/** A running demo server. */
export interface DemoServer {
  readonly vite: ViteDevServer
  readonly url: string
  /** Opens the demo joined to `room` on `signaling`; resolves once it shows its own id. */
  open(browser: Browser, room: string, signaling: string): Promise<{ page: Page; id: PeerId }>
}

/** Starts the demo server, with a dependency cache of its own (see page-server.ts). */
export async function startDemoServer(): Promise<DemoServer> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'peerject-vite-demo-'))
  const vite = await createServer({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    root: new URL('../../demo', import.meta.url).pathname,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    cacheDir,
    optimizeDeps: { include: PREBUNDLED },
    logLevel: 'error',
    clearScreen: false,
  })
  const close = vite.close.bind(vite)
  vite.close = async () => {
    await close()
    rmSync(cacheDir, { recursive: true, force: true })
  }
  await vite.listen()
  const address = vite.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') {
    throw new Error('the demo server has no address')
  }
  const url = `http://127.0.0.1:${address.port}/`
  return {
    vite,
    url,
    async open(browser, room, signaling) {
      const page = await (await browser.newContext()).newPage()
      page.on('pageerror', (error) => console.error('[demo page error]', error.message))
      await page.goto(`${url}?${new URLSearchParams({ room, signaling })}`)
      await page.waitForFunction(() =>
        /^[0-9a-f-]{36}$/.test(document.getElementById('self-id')?.textContent ?? ''),
      )
      return { page, id: (await page.textContent('#self-id')) as PeerId }
    },
  }
}
