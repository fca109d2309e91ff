/**
 * Issue 3 in Chromium: a page and a Node peer exchange 32 MiB values each way over real WebRTC;
 * both ends hash what they sent and what they received (crypto.subtle in the page, node:crypto in
 * Node), and the hashes match. A small value sent during the transfer arrives before it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { Peer, Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import { joinRoom } from '../../src/node.js'
import type { SignalingServer } from '../../signaling/index.js'
import { startBrowser } from '../helpers/browser.js'
import type { BrowserFixture } from '../helpers/browser.js'
import { nextMessage, waitForPeers } from '../helpers/events.js'
import { startSignaling } from '../helpers/signaling.js'

const MiB = 1024 * 1024
const SIZE = 32 * MiB

let server: SignalingServer
let fixture: BrowserFixture
let page: Page
let node: Room | undefined
let pageId: PeerId
/** The page as seen from Node, looked up on each use (a reconnection replaces the object). */
const toPage = (): Peer => node!.peers.get(pageId)!

beforeAll(async () => {
  ;[server, fixture] = await Promise.all([startSignaling(), startBrowser()])
  page = await fixture.openPage()
  const roomName = `values-${crypto.randomUUID()}`
  pageId = (await page.evaluate(`(async ([signaling, room]) => {
    const joined = await window.peerject.joinRoom({ signaling, room })
    window.room = joined
    window.inbox = []
    joined.on('message', (value, from) => window.inbox.push({ value, from: from.id, at: performance.now() }))
    window.hex = async (view) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', view))]
      .map((b) => b.toString(16).padStart(2, '0')).join('')
    return joined.self
  })(${JSON.stringify([server.url, roomName])})`)) as PeerId
  node = await joinRoom({ signaling: server.url, room: roomName })
  await waitForPeers(node, [pageId])
  await page.waitForFunction(`window.room.peers.has(${JSON.stringify(node.self)})`)
})
afterAll(async () => {
  node?.leave()
  await fixture.close()
  await server.close()
})

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

it('32 MiB Node → Chromium arrives intact; a small value sent meanwhile arrives first', async () => {
  const data = new Uint8Array(randomBytes(SIZE))
  const started = performance.now()
  let small: Promise<void> | undefined
  await toPage().send(
    { name: 'node-to-page', data },
    {
      onProgress: (sent) => {
        if (small === undefined && sent > 2 * MiB) small = toPage().send({ name: 'small' })
      },
    },
  )
  await small
  await page.waitForFunction(`window.inbox.length === 2`, undefined, { timeout: 60_000 })
  const seconds = (performance.now() - started) / 1000
  const result = (await page.evaluate(`(async () => {
    const [first, second] = window.inbox
    const big = first.value.name === 'node-to-page' ? first : second
    const data = big.value.data
    return {
      order: window.inbox.map((m) => m.value.name),
      type: Object.prototype.toString.call(data),
      plain: Object.getPrototypeOf(data) === Uint8Array.prototype,
      length: data.byteLength,
      hash: await window.hex(data),
    }
  })()`)) as { order: string[]; type: string; plain: boolean; length: number; hash: string }
  console.info(`32 MiB Node→Chromium: ${seconds.toFixed(2)} s (${(32 / seconds).toFixed(1)} MiB/s)`)
  expect(result.order).toEqual(['small', 'node-to-page'])
  expect(result.type).toBe('[object Uint8Array]')
  expect(result.plain).toBe(true)
  expect(result.length).toBe(SIZE)
  expect(result.hash).toBe(sha256(data))
})

it('32 MiB Chromium → Node arrives intact', async () => {
  const arrived = nextMessage(
    node!,
    (value) => (value as { name?: string }).name === 'page-to-node',
  )
  const started = performance.now()
  const sent = (await page.evaluate(`(async ([nodeId, size]) => {
    // Deterministic bytes (xorshift32), different in every position.
    const data = new Uint8Array(size)
    const words = new Uint32Array(data.buffer)
    let state = 0x9e3779b9
    for (let i = 0; i < words.length; i++) {
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5
      words[i] = state >>> 0
    }
    const hash = await window.hex(data)
    const progress = []
    await window.room.peers.get(nodeId).send(
      { name: 'page-to-node', data, floats: new Float32Array([1.5, -2]) },
      { onProgress: (done, total) => progress.push(done / total) },
    )
    const monotonic = progress.every((p, i) => i === 0 || p > progress[i - 1])
    return { hash, monotonic, last: progress.at(-1), steps: progress.length }
  })(${JSON.stringify([node!.self, SIZE])})`)) as {
    hash: string
    monotonic: boolean
    last: number
    steps: number
  }
  const { value, from } = await arrived
  const seconds = (performance.now() - started) / 1000
  console.info(`32 MiB Chromium→Node: ${seconds.toFixed(2)} s (${(32 / seconds).toFixed(1)} MiB/s)`)
  expect(from.id).toBe(pageId)
  const got = value as { data: Uint8Array; floats: Float32Array }
  expect(Object.getPrototypeOf(got.data)).toBe(Uint8Array.prototype) // never a Buffer
  expect(got.floats).toEqual(new Float32Array([1.5, -2]))
  expect(got.data.byteLength).toBe(SIZE)
  expect(sha256(got.data)).toBe(sent.hash)
  expect(sent.monotonic).toBe(true)
  expect(sent.last).toBe(1)
  expect(sent.steps).toBeGreaterThan(100)
})

it('transfer from a page: the buffer is detached at send and 4 MiB arrive intact in Node', async () => {
  const arrived = nextMessage(
    node!,
    (value) => (value as { name?: string }).name === 'page-transfer',
  )
  const sent = (await page.evaluate(`(async ([nodeId, size]) => {
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i += 4096) crypto.getRandomValues(data.subarray(i, i + 4096))
    const hash = await window.hex(data)
    const sending = window.room.peers.get(nodeId).send(
      { name: 'page-transfer', data },
      { transfer: [data.buffer] },
    )
    const detached = data.byteLength === 0
    await sending
    return { hash, detached }
  })(${JSON.stringify([node!.self, 4 * MiB])})`)) as { hash: string; detached: boolean }
  const { value } = await arrived
  expect(sent.detached).toBe(true)
  expect(sha256((value as { data: Uint8Array }).data)).toBe(sent.hash)
})
