/**
 * The Chromium↔Chromium environment: Debian's Chromium through playwright-core, two pages (own
 * browser contexts) served by a Vite dev server from bench/pages with peerject loaded from src/.
 * The Node side only orchestrates: every measured byte moves page to page over real WebRTC,
 * introduced by the real signaling server.
 */
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'

import type { Browser, Page } from 'playwright-core'
import { createServer } from 'vite'
import type { ViteDevServer } from 'vite'

import { launchChromium } from '../test/helpers/chromium.js'
import type { Env, SideHandle } from './env.js'
import { pair } from './env.js'
import { BENCH_DIR } from './paths.js'

/** A running browser and page server. */
export interface Browsers {
  readonly version: string
  /** Two connected pages as an {@link Env}; `pages` gives direct access for other figures. */
  openEnv(
    signaling: string,
  ): Promise<Env & { readonly pages: readonly [Page, Page]; readonly signaling: string }>
  close(): Promise<void>
}

/** Starts the page server and Chromium. */
export async function startBrowsers(): Promise<Browsers> {
  const server = await startPageServer()
  let browser: Browser
  try {
    // Two pages measure against each other: neither may be throttled as a background tab.
    browser = await launchChromium([
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ])
  } catch (error) {
    await server.server.close()
    throw error
  }
  const openPage = async (): Promise<Page> => {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error('[bench page error]', error.message))
    await page.goto(`${server.url}index.html`)
    await page.waitForFunction('window.benchReady === true', undefined, { timeout: 60_000 })
    if ((await page.evaluate('globalThis.crossOriginIsolated')) !== true) {
      throw new Error(
        'the bench page is not cross-origin isolated: its clock would be 100 µs coarse',
      )
    }
    return page
  }
  return {
    version: `Chromium ${browser.version()}`,
    async openEnv(signaling) {
      const room = `bench-${randomUUID()}`
      const pages = [await openPage(), await openPage()] as const
      try {
        await Promise.all(
          pages.map((page) =>
            page.evaluate(
              `window.bench.start('main', ${JSON.stringify(signaling)}, ${JSON.stringify(room)})`,
            ),
          ),
        )
        const a = pageHandle(pages[0], 'main')
        const b = pageHandle(pages[1], 'main')
        const info = await pair(a, b)
        return {
          name: 'Chromium↔Chromium',
          a,
          b,
          info,
          pages,
          signaling,
          async close() {
            await Promise.all(pages.map((page) => page.context().close()))
          },
        }
      } catch (error) {
        await Promise.all(pages.map((page) => page.context().close()))
        throw error
      }
    },
    async close() {
      await browser.close()
      await server.server.close()
    },
  }
}

/** Calls `window.bench.sides[name].<method>(...args)` in `page`. */
export function pageHandle(page: Page, name: string): SideHandle {
  const side = `window.bench.sides[${JSON.stringify(name)}]`
  return {
    call(method, ...args) {
      const list = args.map((arg) => JSON.stringify(arg)).join(', ')
      return page.evaluate(`${side}.${method}(${list})`) as never
    },
  }
}

async function startPageServer(): Promise<{ url: string; server: ViteDevServer }> {
  const server = await createServer({
    configFile: false,
    root: fileURLToPath(new URL('./pages', BENCH_DIR)),
    // Its own cache: other tools' Vite servers on this checkout must not share optimized deps.
    cacheDir: fileURLToPath(new URL('../node_modules/.vite-bench', BENCH_DIR)),
    optimizeDeps: { include: ['peerjs'] },
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      hmr: false,
      // Cross-origin isolation: performance.now() then has 5 µs resolution instead of 100 µs,
      // which matters for round trips of well under a millisecond.
      headers: {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      },
    },
    logLevel: 'error',
    clearScreen: false,
  })
  await server.listen()
  const address = server.httpServer?.address()
  if (address === null || address === undefined || typeof address === 'string') {
    await server.close()
    throw new Error('the bench page server has no address')
  }
  return { url: `http://127.0.0.1:${address.port}/`, server }
}
