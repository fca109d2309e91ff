/**
 * Issue 3 in Chromium: the codec round-trip table (test/unit/codec-cases.ts) runs through the real
 * codec inside a page, then crosses real WebRTC both ways between a Node peer and the page, with
 * the classes registered on both sides: every value arrives as itself (same typed-array classes,
 * never a Node Buffer, registered classes with their prototypes, errors, cycles, identity).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import { joinRoom } from '../../src/node.js'
import type { SignalingServer } from '../../signaling/index.js'
import { startBrowser } from '../helpers/browser.js'
import type { BrowserFixture } from '../helpers/browser.js'
import { waitForPeers } from '../helpers/events.js'
import { startSignaling } from '../helpers/signaling.js'
import { assertSameValue, codecCaseClasses, codecCases } from '../unit/codec-cases.js'

const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '')
let server: SignalingServer
let fixture: BrowserFixture
let page: Page
let node: Room | undefined

beforeAll(async () => {
  ;[server, fixture] = await Promise.all([startSignaling(), startBrowser()])
  page = await fixture.openPage()
  // The table and the codec, loaded in the page from source through the page server's /@fs.
  await page.evaluate(`(async (root) => {
    window.cases = await import('/@fs' + root + '/test/unit/codec-cases.ts')
    window.codecModule = await import('/@fs' + root + '/src/codec/index.ts')
  })(${JSON.stringify(root)})`)
})
afterAll(async () => {
  node?.leave()
  await fixture.close()
  await server.close()
})

it('DOM nodes and other platform objects are refused as such, not as classes to register', async () => {
  const messages = (await page.evaluate(`(() => {
    const codec = new window.codecModule.Codec()
    return [{ el: document.body }, { key: new DOMMatrix() }].map((value) => {
      try {
        codec.encode(value)
        return 'encoded'
      } catch (error) {
        return error.code + ' ' + error.message
      }
    })
  })()`)) as string[]
  expect(messages[0]).toMatch(/^ERR_UNSERIALIZABLE value\.el is a DOM node \(HTMLBodyElement\)/)
  expect(messages[1]).toMatch(
    /^ERR_UNSERIALIZABLE value\.key is a DOMMatrix, an object of the platform/,
  )
  for (const message of messages) expect(message).not.toContain('registerClass')
})

it('the round-trip table passes through the real codec in Chromium', async () => {
  const result = (await page.evaluate(`(() => {
    const { Codec } = window.codecModule
    const { codecCases, codecCaseClasses, assertSameValue } = window.cases
    const codec = new Codec({ classes: codecCaseClasses() })
    const failures = []
    const list = codecCases()
    for (const c of list) {
      try {
        const original = c.value()
        const decoded = codec.decode(codec.encode(original))
        ;(c.check ?? assertSameValue)(decoded, original)
      } catch (error) {
        failures.push(c.name + ': ' + (error && error.message))
      }
    }
    return { count: list.length, failures }
  })()`)) as { count: number; failures: string[] }
  expect(result.failures).toEqual([])
  expect(result.count).toBe(codecCases().length)
  expect(result.count).toBeGreaterThan(80)
})

it('the table crosses real WebRTC Node → Chromium and Chromium → Node, arriving as itself', async () => {
  const roomName = `codec-${crypto.randomUUID()}`
  const pageId = (await page.evaluate(`(async ([signaling, room]) => {
    const joined = await window.peerject.joinRoom({
      signaling, room, classes: window.cases.codecCaseClasses(),
    })
    window.room = joined
    window.inbox = []
    joined.on('message', (value, from) => window.inbox.push({ value, from: from.id }))
    return joined.self
  })(${JSON.stringify([server.url, roomName])})`)) as PeerId
  node = await joinRoom({ signaling: server.url, room: roomName, classes: codecCaseClasses() })
  await waitForPeers(node, [pageId])
  await page.waitForFunction(`window.room.peers.has(${JSON.stringify(node.self)})`)

  // Node → page: every case, plus a Node Buffer (arrives as a plain Uint8Array).
  const cases = codecCases()
  // Looked up on use: a reconnection replaces the Peer object.
  const toPage = node.peers.get(pageId)!
  await Promise.all(cases.map((c, i) => toPage.send({ i, value: c.value() })))
  await toPage.send({ i: -1, value: { buffer: Buffer.from([1, 2, 3]) } })
  await page.waitForFunction(`window.inbox.length === ${cases.length + 1}`)
  const inPage = (await page.evaluate(`(() => {
    const { codecCases, assertSameValue } = window.cases
    const list = codecCases()
    const failures = []
    for (const { value: message, from } of window.inbox) {
      if (from !== ${JSON.stringify(node.self)}) failures.push('wrong sender ' + from)
      if (message.i === -1) {
        const buffer = message.value.buffer
        if (Object.getPrototypeOf(buffer) !== Uint8Array.prototype || buffer.join() !== '1,2,3') {
          failures.push('Buffer did not arrive as a Uint8Array [1, 2, 3]')
        }
        continue
      }
      const c = list[message.i]
      try {
        ;(c.check ?? assertSameValue)(message.value, c.value())
      } catch (error) {
        failures.push(c.name + ': ' + error.message)
      }
    }
    return failures
  })()`)) as string[]
  expect(inPage).toEqual([])

  // Page → Node: every case, encoded by the browser build.
  const received = new Map<number, unknown>()
  const all = new Promise<void>((resolve) =>
    node!.on('message', (value, from) => {
      expect(from.id).toBe(pageId)
      const { i, value: inner } = value as { i: number; value: unknown }
      received.set(i, inner)
      if (received.size === cases.length) resolve()
    }),
  )
  await page.evaluate(`(async (nodeId) => {
    const peer = window.room.peers.get(nodeId)
    const list = window.cases.codecCases()
    await Promise.all(list.map((c, i) => peer.send({ i, value: c.value() })))
  })(${JSON.stringify(node.self)})`)
  await all
  const failures: string[] = []
  cases.forEach((c, i) => {
    try {
      ;(c.check ?? assertSameValue)(received.get(i), c.value())
    } catch (error) {
      failures.push(`${c.name}: ${(error as Error).message}`)
    }
  })
  expect(failures).toEqual([])
})
