/**
 * The demo page (vite.config.ts, root `demo/`) on a Vite dev server at 127.0.0.1, port 0, and a
 * way to open it in a fresh browser context joined to a room through a given signaling server.
 */
import { afterAll, beforeAll } from 'vitest'
import type { ViteDevServer } from 'vite'
import type { Browser, Page } from 'playwright-core'
import type { PeerId } from '../../src/ids.js'
import type { SignalingServer } from '../../signaling/index.js'
import { launchChromium } from './chromium.js'
import { startViteServer } from './page-server.js'
import { startSignaling } from './signaling.js'

/** A running demo server. */
export interface DemoServer {
  readonly vite: ViteDevServer
  readonly url: string
  /** Opens the demo joined to `room` on `signaling`; resolves once it shows its own id. */
  open(browser: Browser, room: string, signaling: string): Promise<DemoPage>
}

/** An open demo page. */
export interface DemoPage {
  readonly page: Page
  /** Its peer id. */
  readonly id: PeerId
  /**
   * Uncaught exceptions, console errors and failed requests of the page so far: a demo test ends
   * by asserting there were none (a 404 or a rejected promise the UI swallowed shows here).
   */
  readonly errors: string[]
}

/** Starts the demo server, with a dependency cache of its own (see page-server.ts). */
export async function startDemoServer(): Promise<DemoServer> {
  const { url, server: vite } = await startViteServer({
    configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
    root: new URL('../../demo', import.meta.url).pathname,
  })
  return {
    vite,
    url,
    async open(browser, room, signaling) {
      const page = await (await browser.newContext()).newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`))
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`)
      })
      page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`))
      await page.goto(`${url}?${new URLSearchParams({ room, signaling })}`)
      await page.waitForFunction(() =>
        /^[0-9a-f-]{36}$/.test(document.getElementById('self-id')?.textContent ?? ''),
      )
      return { page, id: (await page.textContent('#self-id')) as PeerId, errors }
    },
  }
}

/** What {@link useDemo} gives a test file. */
export interface DemoFixture {
  /** The signaling server's URL (once the file's `beforeAll` ran). */
  readonly signaling: string
  /** Opens the demo in a fresh browser context joined to `room`. */
  open(room: string): Promise<DemoPage>
}

/**
 * For the calling test file: a signaling server, the demo server and Chromium, started before its
 * tests and closed after them (after the file's own `afterAll` hooks registered later).
 */
export function useDemo(): DemoFixture {
  let server: SignalingServer | undefined
  let demo: DemoServer | undefined
  let browser: Browser | undefined
  beforeAll(async () => {
    ;[server, demo, browser] = await Promise.all([
      startSignaling(),
      startDemoServer(),
      launchChromium(),
    ])
  })
  afterAll(async () => {
    await browser?.close()
    await demo?.vite.close()
    await server?.close()
  })
  const started = () => {
    if (server === undefined || demo === undefined || browser === undefined) {
      throw new Error('the demo fixture is not started yet')
    }
    return { server, demo, browser }
  }
  return {
    get signaling() {
      return started().server.url
    },
    open(room) {
      const { server, demo, browser } = started()
      return demo.open(browser, room, server.url)
    },
  }
}
