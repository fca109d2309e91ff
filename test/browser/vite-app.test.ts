/**
 * "A Vite app that imports peerject needs no polyfill configuration": a fresh app with NO Vite
 * config imports the built package (built here first when `dist/` is older than the sources, so
 * running this file alone never tests a stale build), is built by Vite for production, served,
 * and joins a room with a Node peer over real WebRTC in Chromium.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { build, preview } from 'vite'
import type { PreviewServer } from 'vite'
import type { Browser } from 'playwright-core'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import type { SignalingServer } from '../../signaling/index.js'
import { launchChromium } from '../helpers/chromium.js'
import { startSignaling } from '../helpers/signaling.js'
import { waitForPeers } from '../helpers/events.js'

const packageRoot = new URL('../..', import.meta.url).pathname
/**
 * Size budget of the browser entry as an app ships it: the initial chunk of an app that imports
 * `joinRoom`, gzipped (measured 76 KiB on 2026-11-22: simple-peer's bundle is ~30 KiB of it).
 * The PeerJS adapter (and peerjs itself) loads on demand in chunks of its own.
 */
const BUDGET_GZIP_BYTES = 90 * 1024
let appDir: string
let server: SignalingServer
let browser: Browser
let site: PreviewServer
let node: Room | undefined

/** Runs `npm run build` unless `dist/` is newer than every file of `src/` and `signaling/`. */
async function ensureBuilt(): Promise<void> {
  const built = await stat(join(packageRoot, 'dist', 'src', 'index.js')).catch(() => undefined)
  let stale = built === undefined
  for (const dir of ['src', 'signaling']) {
    if (stale) break
    for (const file of await readdir(join(packageRoot, dir), { recursive: true })) {
      if ((await stat(join(packageRoot, dir, file))).mtimeMs > built!.mtimeMs) {
        stale = true
        break
      }
    }
  }
  if (stale) await promisify(execFile)('npm', ['run', 'build'], { cwd: packageRoot })
}

beforeAll(async () => {
  await ensureBuilt()
  appDir = await mkdtemp(join(tmpdir(), 'peerject-vite-app-'))
  await mkdir(join(appDir, 'node_modules'))
  await symlink(packageRoot, join(appDir, 'node_modules', 'peerject'), 'dir')
  await writeFile(join(appDir, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }))
  await writeFile(
    join(appDir, 'index.html'),
    '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>',
  )
  await writeFile(
    join(appDir, 'main.js'),
    `import { joinRoom } from 'peerject'
window.join = async (signaling) => {
  const room = await joinRoom({ signaling, room: 'vite-app' })
  window.received = []
  room.on('message', (value) => window.received.push(value))
  window.room = room
  return room.self
}
window.runFrom = async (peerId, id) => {
  const mod = await window.room.peers.get(peerId).code.run(id, { timeoutMs: 20000 })
  try {
    return await mod.run(20)
  } finally {
    mod.dispose()
  }
}
window.appReady = true
`,
  )
  await build({ root: appDir, configFile: false, logLevel: 'error', build: { outDir: 'dist' } })
  site = await preview({
    root: appDir,
    configFile: false,
    logLevel: 'error',
    preview: { host: '127.0.0.1', port: 0 },
    build: { outDir: 'dist' },
  })
  ;[server, browser] = await Promise.all([startSignaling(), launchChromium()])
})

afterAll(async () => {
  node?.leave()
  await browser?.close()
  await new Promise<void>((resolve) => site?.httpServer.close(() => resolve()))
  await server?.close()
  await rm(appDir, { recursive: true, force: true })
})

it('a zero-config Vite build of an app importing peerject connects to a Node peer', async () => {
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  const address = site.httpServer.address()
  if (address === null || typeof address === 'string') throw new Error('no preview address')
  await page.goto(`http://127.0.0.1:${address.port}/`)
  await page.waitForFunction(() => (window as { appReady?: boolean }).appReady === true)
  const pageId = (await page.evaluate(`window.join(${JSON.stringify(server.url)})`)) as PeerId
  node = await joinRoom({ signaling: server.url, room: 'vite-app' })
  const [peer] = await waitForPeers(node, [pageId])
  await peer?.send({ hello: 'from node', n: 42n })
  await page.waitForFunction(() => (window as { received?: unknown[] }).received?.length === 1)
  expect(await page.evaluate(`window.received[0].hello + ':' + String(window.received[0].n)`)).toBe(
    'from node:42',
  )
  // A code object runs in the production build: the runner's chunks load on demand.
  const id = await node.code.publish(`export function run(n) { return 2 * n + 1 }`)
  const result = await page.evaluate(
    `window.runFrom(${JSON.stringify(node.self)}, ${JSON.stringify(id)})`,
  )
  expect(result).toBe(41)
  expect(errors).toEqual([])
})

it('the initial chunk of such an app stays within the size budget', async () => {
  const assets = join(appDir, 'dist', 'assets')
  const entry = (await readdir(assets)).find((name) => /^index-.*\.js$/.test(name))
  expect(entry).toBeDefined()
  const initial = await readFile(join(assets, entry as string))
  expect(gzipSync(initial).byteLength).toBeLessThanOrEqual(BUDGET_GZIP_BYTES)
  // Running code objects (Comlink, the runner, the worker's sources) is left to chunks loaded on
  // the first run: markers of the worker bootstrap and of the runner are not in the initial one.
  const text = initial.toString('utf8')
  expect(text).not.toContain('in a code object:')
  expect(text).not.toContain('could not be sent to its worker')
  const chunks = await readdir(assets)
  const lazy = await Promise.all(
    chunks.filter((name) => name !== entry).map((name) => readFile(join(assets, name), 'utf8')),
  )
  expect(lazy.some((chunk) => chunk.includes('in a code object:'))).toBe(true)
})
