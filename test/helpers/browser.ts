/**
 * Browser test fixture: one Chromium, one page server, pages that have `window.peerject` loaded.
 * Page-side code is passed to `page.evaluate` as strings or as functions that touch only `window`
 * (vitest rewrites `import()` inside test functions, so pages never import from test code).
 */
import type { Browser, Page } from 'playwright-core'
import type { ViteDevServer } from 'vite'
import { launchChromium } from './chromium.js'
import { startPageServer } from './page-server.js'

/** A running browser and page server. */
export interface BrowserFixture {
  readonly browser: Browser
  readonly pageServer: ViteDevServer
  readonly url: string
  /** Opens a new page (own context: separate storage) with peerject loaded. */
  openPage(): Promise<Page>
  close(): Promise<void>
}

/** Starts Chromium and the page server. */
export async function startBrowser(): Promise<BrowserFixture> {
  const [browser, { url, server }] = await Promise.all([launchChromium(), startPageServer()])
  return {
    browser,
    pageServer: server,
    url,
    async openPage() {
      const context = await browser.newContext()
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error('[page error]', error.message))
      await page.goto(`${url}index.html`)
      await page.waitForFunction(
        () => (window as { peerjectReady?: boolean }).peerjectReady === true,
      )
      return page
    },
    async close() {
      await browser.close()
      await server.close()
    },
  }
}
