/**
 * Issue 6 in Chromium: a page and two Node peers (node-datachannel) join one room through a real
 * PeerServer (npm `peer`, port 0) with `joinRoom({ room, peerjs })`, over real WebRTC. They see each
 * other, exchange values (8 MiB binary each way, hash-checked, small values overtaking it), call
 * references both ways with callbacks, and see leaves: a Node peer's `room.leave()`, a page's
 * `room.leave()`, a closed page. Page code is passed as strings (see test/helpers/browser.ts).
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import { startBrowser } from '../helpers/browser.js'
import type { BrowserFixture } from '../helpers/browser.js'
import { startPeerServer } from '../helpers/peer-server.js'
import type { RunningPeerServer } from '../helpers/peer-server.js'
import { nextMessage, waitForLeave, waitForPeers } from '../helpers/events.js'

let server: RunningPeerServer
let fixture: BrowserFixture
const rooms: Room[] = []

beforeAll(async () => {
  ;[server, fixture] = await Promise.all([startPeerServer(), startBrowser()])
})
afterAll(async () => {
  for (const room of rooms) room.leave()
  await fixture.close()
  await server.close()
})

const BIG = 8 * 1024 * 1024

/** The same bytes on both sides: `pattern` below and `window.t.pattern` in the page. */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff
  return bytes
}
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function serverOptions() {
  return { host: '127.0.0.1', port: server.port, path: server.path, key: server.key }
}

async function joinNode(room: string): Promise<Room> {
  const joined = await joinRoom({ room, peerjs: serverOptions(), connectTimeoutMs: 10_000 })
  rooms.push(joined)
  return joined
}

/** Page-side: helpers, then joins the room and records presence and messages. */
const JOIN = `async ([peerjs, room]) => {
  window.t = {
    pattern(size, seed) {
      const bytes = new Uint8Array(size)
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff
      return bytes
    },
    async sha256(bytes) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
      return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
    },
  }
  const joined = await window.peerject.joinRoom({ room, peerjs, connectTimeoutMs: 10000 })
  window.room = joined
  window.presence = { peers: new Set(), left: [] }
  window.inbox = []
  joined.on('peer', (p) => window.presence.peers.add(p.id))
  joined.on('leave', (p) => {
    const id = typeof p === 'string' ? p : p.id
    window.presence.peers.delete(id)
    window.presence.left.push(id)
  })
  joined.on('message', (value, from) => window.inbox.push({ from: from.id, value }))
  return joined.self
}`

async function joinPage(page: Page, room: string): Promise<PeerId> {
  return (await page.evaluate(`(${JOIN})(${JSON.stringify([serverOptions(), room])})`)) as PeerId
}

const run = (page: Page, code: string, arg: unknown): Promise<unknown> =>
  page.evaluate(`(${code})(${JSON.stringify(arg)})`)

const hasPeers = (ids: readonly string[]) =>
  `(${JSON.stringify(ids)}).every((id) => window.presence.peers.has(id))`

it('a page and two Node peers meet through a PeerServer, pass values and references, and part', async () => {
  const a = await joinNode('mixed')
  const page = await fixture.openPage()
  const pageId = await joinPage(page, 'mixed')
  const b = await joinNode('mixed')

  // Presence: `peer` events everywhere.
  await Promise.all([
    waitForPeers(a, [pageId, b.self]),
    waitForPeers(b, [pageId, a.self]),
    page.waitForFunction(hasPeers([a.self, b.self])),
  ])

  // Node → page: 8 MiB with binary, then small values that overtake it.
  const blobToPage = pattern(BIG, 11)
  const toPage = a.peers.get(pageId)
  if (toPage === undefined) throw new Error('A does not know the page')
  await Promise.all([
    toPage.send({ kind: 'big', blob: blobToPage, meta: new Map([['n', 2n ** 70n]]) }),
    ...Array.from({ length: 5 }, (_, i) => toPage.send({ kind: 'small', i })),
  ])
  await page.waitForFunction(`window.inbox.filter((m) => m.value.kind).length === 6`)
  const atPage = (await run(
    page,
    `async () => {
      const values = window.inbox.filter((m) => m.value.kind).map((m) => m.value)
      const big = values.find((v) => v.kind === 'big')
      return {
        order: values.map((v) => v.kind === 'big' ? 'big' : v.i),
        isBytes: big.blob instanceof Uint8Array,
        length: big.blob.byteLength,
        hash: await window.t.sha256(big.blob),
        n: String(big.meta.get('n')),
      }
    }`,
    null,
  )) as { order: unknown[]; isBytes: boolean; length: number; hash: string; n: string }
  expect(atPage).toEqual({
    order: [0, 1, 2, 3, 4, 'big'],
    isBytes: true,
    length: BIG,
    hash: sha256(blobToPage),
    n: String(2n ** 70n),
  })

  // Page → node: 8 MiB generated in the page, checked here.
  const bigAtA = nextMessage(a, (v) => (v as { kind?: string }).kind === 'big')
  const smallAtB = nextMessage(b, (v) => (v as { kind?: string }).kind === 'hello')
  await run(
    page,
    `async ([a, b, size]) => {
      const blob = window.t.pattern(size, 12)
      await Promise.all([
        window.room.peers.get(a).send({ kind: 'big', blob, meta: new Map([['from', 'page']]) }),
        window.room.peers.get(b).send({ kind: 'hello', at: new Date(0) }),
      ])
    }`,
    [a.self, b.self, BIG],
  )
  const fromPage = (await bigAtA).value as { blob: Uint8Array; meta: Map<string, string> }
  expect(fromPage.blob).toBeInstanceOf(Uint8Array)
  expect(sha256(fromPage.blob)).toBe(sha256(pattern(BIG, 12)))
  expect(fromPage.meta.get('from')).toBe('page')
  expect((await smallAtB).value).toEqual({ kind: 'hello', at: new Date(0) })
  expect((await smallAtB).from.id).toBe(pageId)

  // References: the page calls A's calc with a callback; B calls the page's object with one.
  a.expose('calc', {
    add: (x: number, y: number) => x + y,
    async mapEach(values: number[], fn: (value: number) => Promise<number>) {
      const out: number[] = []
      for (const value of values) out.push(await fn(value))
      return out
    },
  })
  const fromPageCalls = await run(
    page,
    `async ([a]) => {
      const calc = window.room.peers.get(a).resolve('calc')
      const seen = []
      return {
        names: await window.room.peers.get(a).list(),
        sum: await calc.add(2, 3),
        mapped: await calc.mapEach([1, 2, 3], async (v) => { seen.push(v); return v * 10 }),
        seen,
      }
    }`,
    [a.self],
  )
  expect(fromPageCalls).toEqual({ names: ['calc'], sum: 5, mapped: [10, 20, 30], seen: [1, 2, 3] })
  await run(
    page,
    `() => window.room.expose('greeter', { greet: async (name, shout) => shout('hi ' + name) })`,
    null,
  )
  const greeter = b.peers.get(pageId)?.resolve<{
    greet(name: string, shout: (text: string) => string): Promise<string>
  }>('greeter')
  expect(await greeter?.greet('node', (text) => text.toUpperCase())).toBe('HI NODE')

  // B leaves with room.leave(): A and the page are told, and keep no ghost.
  const aSeesB = waitForLeave(a, b.self)
  b.leave()
  await aSeesB
  await page.waitForFunction(`window.presence.left.includes(${JSON.stringify(b.self)})`)
  expect(a.peers.has(b.self)).toBe(false)
  expect(await page.evaluate(`window.room.peers.has(${JSON.stringify(b.self)})`)).toBe(false)

  // The page closes: A is told and keeps no ghost.
  const aSeesPage = waitForLeave(a, pageId)
  await page.close()
  await aSeesPage
  expect(a.peers.size).toBe(0)
})

it("a page's room.leave() is announced to a Node peer", async () => {
  const node = await joinNode('page-leaves')
  const page = await fixture.openPage()
  try {
    const pageId = await joinPage(page, 'page-leaves')
    await Promise.all([waitForPeers(node, [pageId]), page.waitForFunction(hasPeers([node.self]))])
    const left = waitForLeave(node, pageId)
    await page.evaluate(`window.room.leave()`)
    await left
    expect(node.peers.size).toBe(0)
    expect(await page.evaluate(`window.room.peers.size`)).toBe(0)
  } finally {
    await page.close()
  }
})
