/**
 * Issue 5 (code objects) in Chromium over real WebRTC: pages run code objects published by the demo's
 * Node peer (scripts/demo-peer.js, run against src/ here) and by another page; network attempts
 * inside the sandbox never reach a local server; the demo page's code panel lists registries, runs
 * code objects, shows results and coded errors, and publishes the page's own module.
 */
import { createServer as createHttpServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Page } from 'playwright-core'
import { joinRoom } from '../../src/node.js'
import { createMemoryStore } from '../../src/index.js'
import type { Peer, Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { startBrowser } from '../helpers/browser.js'
import type { BrowserFixture } from '../helpers/browser.js'
import { waitForPeers } from '../helpers/events.js'
import { startDemoServer } from '../helpers/demo-server.js'
import type { DemoServer } from '../helpers/demo-server.js'

// The demo's Node peer imports the built package; here it runs against the sources.
vi.mock('../../dist/src/node.js', () => import('../../src/node.js'))

interface DemoPeerModule {
  startDemoPeer(signaling: string, room: string): Promise<Room>
  readonly SAMPLE_RESULT: string
}
const DEMO_PEER = new URL('../../scripts/demo-peer.js', import.meta.url).pathname

let server: SignalingServer
let fixture: BrowserFixture
let demo: DemoServer
let demoPeer: DemoPeerModule
/** Counts every TCP connection and HTTP request that reaches it. */
let trap: { server: Server; url: string; hits: number }
const rooms: Room[] = []

beforeAll(async () => {
  const http = createHttpServer((_request, response) => {
    trap.hits++
    response.setHeader('access-control-allow-origin', '*')
    response.setHeader('content-type', 'text/javascript')
    response.end('export default 1')
  })
  http.on('connection', () => trap.hits++)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  trap = { server: http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, hits: 0 }
  ;[server, fixture, demoPeer, demo] = await Promise.all([
    startSignaling(),
    startBrowser(),
    import(/* @vite-ignore */ DEMO_PEER) as Promise<DemoPeerModule>,
    startDemoServer(),
  ])
})
afterAll(async () => {
  for (const room of rooms) room.leave()
  await fixture?.close()
  await demo?.vite.close()
  await new Promise((resolve) => trap?.server.close(resolve))
  await server?.close()
})

/** Evaluates `fn` (page-side source of an async function of one argument) with `arg`. */
function evaluate<T>(page: Page, fn: string, arg: unknown = null): Promise<T> {
  return page.evaluate(`(${fn})(${JSON.stringify(arg)})`) as Promise<T>
}

/** Page-side: joins with an in-memory code store; returns the page's peer id. */
const JOIN = `async ([signaling, room]) => {
  const { joinRoom, createMemoryStore } = window.peerject
  window.room = await joinRoom({ signaling, room, code: { store: createMemoryStore() } })
  return window.room.self
}`

/** Page-side: runs code object `id` of peer `from`, calls `method(...args)`, disposes. */
const RUN = `async ([from, id, method, args]) => {
  const mod = await window.room.peers.get(from).code.run(id, { timeoutMs: 10000 })
  try { return await mod[method](...args) } finally { mod.dispose() }
}`

async function joinPage(page: Page, room: string): Promise<PeerId> {
  return evaluate<PeerId>(page, JOIN, [server.url, room])
}

function pageSees(page: Page, ids: readonly string[]): Promise<unknown> {
  return page.waitForFunction(
    `window.room !== undefined && ${JSON.stringify(ids)}.every((id) => window.room.peers.has(id))`,
  )
}

async function startNodePeer(room: string): Promise<Room> {
  const node = await demoPeer.startDemoPeer(server.url, room)
  rooms.push(node)
  return node
}

async function idNamed(node: Room, name: string): Promise<string> {
  const found = (await node.code.list()).find((m) => m.name === name)
  if (found === undefined) throw new Error(`no code object named ${name}`)
  return found.id
}

function link(from: Room, to: PeerId): Peer {
  const peer = from.peers.get(to)
  if (peer === undefined) throw new Error(`${from.self} does not see ${to}`)
  return peer
}

/** The network probe: each attempt awaits its outcome, so "no hit" is final when it returns. */
const PROBE = `const settle = (target) => new Promise((resolve, reject) => {
  target.onopen = target.onload = () => resolve('opened')
  target.onerror = () => reject(new Error('failed'))
})
const attempts = {
  fetch: (url) => fetch(url),
  XMLHttpRequest: (url) => { const xhr = new XMLHttpRequest(); xhr.open('GET', url); const done = settle(xhr); xhr.send(); return done },
  WebSocket: (url) => settle(new WebSocket(url.replace('http', 'ws'))),
  EventSource: (url) => settle(new EventSource(url)),
  importHttp: (url) => import(url + 'x.js'),
  fontFace: (url) => new FontFace('probe', 'url(' + url + 'font.woff2)').load(),
}
export async function probe(url) {
  const outcome = {}
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      const value = await attempt(url)
      outcome[name] = 'reached: ' + typeof value
    } catch (error) {
      outcome[name] = String(error && error.name) + ': ' + String(error && error.message)
    }
  }
  return outcome
}`

describe('code objects in Chromium', () => {
  it('a page runs code objects published by the Node peer and by another page', async () => {
    const room = `code-pages-${crypto.randomUUID()}`
    const node = await startNodePeer(room)
    const [publisherPage, runnerPage] = await Promise.all([fixture.openPage(), fixture.openPage()])
    const publisher = await joinPage(publisherPage, room)
    const runner = await joinPage(runnerPage, room)
    await Promise.all([
      pageSees(runnerPage, [node.self, publisher]),
      pageSees(publisherPage, [runner]),
    ])

    const pageModule = await evaluate<string>(
      publisherPage,
      `async () => {
        const factor = await window.room.code.publish('export const factor = 3', { name: 'factor' })
        return window.room.code.publish("import { factor } from 'peerject:" + factor + "'\\nexport function triple(x) { return x * factor }", { name: 'triple', version: '0.1.0' })
      }`,
    )
    const sample = await idNamed(node, 'sample')

    const listed = await evaluate<Array<{ name: string; id: string; size: number }>>(
      runnerPage,
      `async (from) => (await window.room.peers.get(from).code.list()).map(({ name, id, size }) => ({ name, id, size }))`,
      node.self,
    )
    expect(listed.map((m) => m.name).sort()).toEqual(['greeting', 'sample'])
    expect(listed.find((m) => m.name === 'sample')?.id).toBe(sample)

    expect(await evaluate(runnerPage, RUN, [node.self, sample, 'run', []])).toBe(
      demoPeer.SAMPLE_RESULT,
    )
    expect(await evaluate(runnerPage, RUN, [publisher, pageModule, 'triple', [14]])).toBe(42)

    // A Node peer runs the page's module too.
    await waitForPeers(node, [publisher])
    const fromNode = link(node, publisher)
    const mod = await fromNode.code.run<{ triple(x: number): number }>(pageModule)
    try {
      expect(await mod.triple(5)).toBe(15)
    } finally {
      mod.dispose()
    }
    await Promise.all([publisherPage.close(), runnerPage.close()])
  })

  it('network attempts inside a code object never reach a local server', async () => {
    const room = `code-net-${crypto.randomUUID()}`
    const node = await joinRoom({
      signaling: server.url,
      room,
      code: { store: createMemoryStore() },
    })
    rooms.push(node)
    const probe = await node.code.publish(PROBE, { name: 'probe' })
    const page = await fixture.openPage()
    const self = await joinPage(page, room)
    await Promise.all([pageSees(page, [node.self]), waitForPeers(node, [self])])

    trap.hits = 0
    const outcome = await evaluate<Record<string, string>>(page, RUN, [
      node.self,
      probe,
      'probe',
      [trap.url],
    ])
    expect(Object.keys(outcome).sort()).toEqual(
      ['EventSource', 'WebSocket', 'XMLHttpRequest', 'fetch', 'fontFace', 'importHttp'].sort(),
    )
    for (const [name, result] of Object.entries(outcome)) {
      expect(result, name).not.toMatch(/^reached/)
    }
    expect(outcome['fetch']).toMatch(/not available inside a code object/)
    // Not stubbed by the runtime: only the sandbox's CSP stops these two.
    expect(outcome['importHttp']).toMatch(/TypeError/)
    expect(outcome['fontFace']).toMatch(/NetworkError/)
    expect(trap.hits).toBe(0)

    // The trap does count: the page itself (outside the sandbox) reaches it.
    await evaluate(page, `(url) => fetch(url, { mode: 'no-cors' }).then(() => 'ok')`, trap.url)
    expect(trap.hits).toBeGreaterThan(0)
    await page.close()
  })

  it('the demo page lists registries, runs code objects, shows results and errors, publishes', async () => {
    const room = `code-demo-${crypto.randomUUID()}`
    const node = await startNodePeer(room)
    const sample = await idNamed(node, 'sample')
    const { page } = await demo.open(fixture.browser, room, server.url)

    const registry = page.locator(`[data-peer-registry="${node.self}"]`)
    const runSample = registry.locator(`tr[data-code-id="${sample}"] [data-action="run"]`)
    await runSample.waitFor({ timeout: 30_000 })
    await expect(registry.locator(`tr[data-code-id="${sample}"]`).innerText()).resolves.toMatch(
      /^sample\s+the demo Node peer's sample[^\n]*\s+1\.0\.0\s+\d+ B\s+[0-9a-f]{8}…/,
    )
    // Its dependency is listed as such, without a Run button of its own.
    const greeting = registry.locator('tr[data-code-name="greeting"]')
    await expect(greeting.innerText()).resolves.toMatch(/used by sample/)
    expect(await greeting.locator('[data-action="run"]').count()).toBe(0)
    await runSample.click()
    const sampleResult = registry.locator(
      `[data-run-result][data-code-id="${sample}"][data-state="ok"]`,
    )
    await sampleResult.waitFor()
    expect(await sampleResult.textContent()).toBe(`run() → ${demoPeer.SAMPLE_RESULT}`)

    // Published after the page listed: Refresh shows them. `default` wins; load errors show coded.
    const chosen = await node.code.publish(
      'export function main() { return "main" }\nexport default function () { return "default wins" }',
      { name: 'entry' },
    )
    const broken = await node.code.publish('export function run() { return 1 }}', {
      name: 'broken',
    })
    await page.locator('[data-action="refresh"]').click()
    for (const [id, expected, state] of [
      [chosen, 'default() → default wins', 'ok'],
      [broken, /^ERR_CODE_LOAD: /, 'error'],
    ] as const) {
      const row = page.locator(`[data-peer-registry="${node.self}"] tr[data-code-id="${id}"]`)
      await row.locator('[data-action="run"]').click()
      const result = page.locator(`[data-run-result][data-code-id="${id}"][data-state="${state}"]`)
      await result.waitFor()
      expect(await result.textContent()).toMatch(expected)
    }

    // Publish from the page (the textarea holds an example exporting run()); the Node peer runs it.
    const pageId = (await page.locator('#self-id').textContent()) as PeerId
    await page.locator('[data-publish-name]').fill('from-the-page')
    await page.getByRole('button', { name: 'Publish' }).click()
    const status = page.locator('[data-publish-status][data-code-id]')
    await status.waitFor()
    const published = (await status.getAttribute('data-code-id')) as string
    await page.locator(`[data-own-registry] [data-code-id="${published}"]`).waitFor()
    await waitForPeers(node, [pageId])
    const fromNode = link(node, pageId)
    expect((await fromNode.code.list()).find((m) => m.id === published)?.name).toBe('from-the-page')
    const mod = await fromNode.code.run<{ run(): string }>(published)
    try {
      expect(await mod.run()).toMatch(/^Hello from a page at \d{4}-/)
    } finally {
      mod.dispose()
    }

    // A module that does not load is published (its id and imports are fine) and said to fail.
    await page.locator('[data-publish-source]').fill('export function run() {')
    await page.locator('[data-publish-name]').fill('unfinished')
    await page.getByRole('button', { name: 'Publish' }).click()
    await page.waitForFunction(() =>
      /^Published unfinished as [0-9a-f]{8}…, but it fails to load: ERR_CODE_LOAD/.test(
        document.querySelector('[data-publish-status]')?.textContent ?? '',
      ),
    )
    await page.context().close()
  })
})
