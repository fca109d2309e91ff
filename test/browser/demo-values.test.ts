/**
 * The demo's values panel in Chromium, two demo pages in one room over real WebRTC: presence,
 * text, a file dropped for one peer (progress on both sides, a download link on the receiver), and
 * cancelling a large file mid-transfer (both sides show it stopped).
 */
import { expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { Room } from '../../src/index.js'
import { useDemo } from '../helpers/demo-server.js'

const demo = useDemo()

/** Resolves when `page` lists `peer` among its peers. */
const seesPeer = (page: Page, peer: string): Promise<unknown> =>
  page.waitForSelector(`#peers li[data-peer="${peer}"]`)

it('pages see each other, exchange text and files, and cancel a transfer', async () => {
  const room = `demo-values-${crypto.randomUUID()}`
  const a = await demo.open(room)
  const b = await demo.open(room)
  await Promise.all([seesPeer(a.page, b.id), seesPeer(b.page, a.id)])

  await a.page.fill('#text', 'hello from A')
  await a.page.click('#send-text')
  await b.page.waitForFunction(() =>
    [...document.querySelectorAll('#log li')].some((li) =>
      li.textContent?.endsWith(': hello from A'),
    ),
  )

  // A 3 MiB file to B: A's row ends "sent", B's row ends "received" with a download link.
  const file = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff)
  await a.page.selectOption('#send-to', b.id)
  // A's progress bar moves with the file's bytes (not straight to done): record its values.
  await a.page.evaluate(() => {
    const seen: number[] = []
    ;(globalThis as unknown as { seenProgress: number[] }).seenProgress = seen
    new MutationObserver(() => {
      const bar = document.querySelector('#transfers li progress') as HTMLProgressElement | null
      if (bar !== null && seen.at(-1) !== bar.value) seen.push(bar.value)
    }).observe(document.getElementById('transfers')!, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['value'],
    })
  })
  await a.page.setInputFiles('#file', {
    name: 'data.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(file),
  })
  await a.page.waitForFunction(() =>
    [...document.querySelectorAll('#transfers li')].some(
      (li) => li.textContent?.includes('data.bin → ') && li.textContent.includes('— sent'),
    ),
  )
  await b.page.waitForFunction(() =>
    [...document.querySelectorAll('#transfers li')].some(
      (li) =>
        li.textContent?.includes('data.bin ← ') &&
        li.textContent.includes('— received') &&
        li.querySelector('a[download="data.bin"]') !== null,
    ),
  )
  const senderProgress = await a.page.evaluate(
    () => (globalThis as unknown as { seenProgress: number[] }).seenProgress,
  )
  expect(senderProgress.some((value) => value > 0 && value < 1)).toBe(true)
  expect(senderProgress.at(-1)).toBe(1)
  const progress = await b.page.$eval(
    '#transfers li progress',
    (bar) => (bar as HTMLProgressElement).value,
  )
  expect(progress).toBe(1)
  const size = await b.page.evaluate(async () => {
    const link = document.querySelector('#transfers a[download="data.bin"]') as HTMLAnchorElement
    return (await (await fetch(link.href)).arrayBuffer()).byteLength
  })
  expect(size).toBe(file.byteLength)

  // A large file, cancelled at once: A reports the abort, B stops with "cancelled".
  await a.page.setInputFiles('#file', {
    name: 'big.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(48 * 1024 * 1024, 1),
  })
  await a.page.click('#transfers li:first-child button')
  await a.page.waitForFunction(() =>
    [...document.querySelectorAll('#transfers li')].some(
      (li) => li.textContent?.includes('big.bin → ') && /aborted/i.test(li.textContent),
    ),
  )
  await b.page.waitForFunction(() =>
    [...document.querySelectorAll('#transfers li')].some(
      (li) => li.textContent?.includes('big.bin ← ') && li.textContent.includes('cancelled'),
    ),
  )
  // The cancel is reported in the page, not as an uncaught error; no request of the page failed.
  expect(a.errors).toEqual([])
  expect(b.errors).toEqual([])
})

interface DemoPeerModule {
  startDemoPeer(signaling: string, room: string): Promise<Room>
}
const DEMO_PEER = new URL('../../scripts/demo-peer.js', import.meta.url).pathname

/** Resolves when `page`'s transfers list has a row matching `test` (run in the page). */
const row = (page: Page, name: string, arrow: string, outcome: string): Promise<unknown> =>
  page.waitForFunction(
    ([name, arrow, outcome]) =>
      [...document.querySelectorAll('#transfers li')].some(
        (li) =>
          li.textContent?.includes(`${name} ${arrow} `) === true &&
          li.textContent.includes(`— ${outcome}`),
      ),
    [name, arrow, outcome] as const,
  )

it('a file to everyone reaches every page while the Node peer reads it too; links stay on their rows; rich values arrive as themselves', async () => {
  const room = `demo-everyone-${crypto.randomUUID()}`
  const { startDemoPeer } = (await import(/* @vite-ignore */ DEMO_PEER)) as DemoPeerModule
  const node = await startDemoPeer(demo.signaling, room)
  try {
    const a = await demo.open(room)
    const b = await demo.open(room)
    await Promise.all([seesPeer(a.page, b.id), seesPeer(a.page, node.self), seesPeer(b.page, a.id)])
    // Peers say what they are: the Node peer is named as such.
    await a.page.waitForFunction(
      (id) =>
        document
          .querySelector(`#peers li[data-peer="${id}"]`)
          ?.textContent?.startsWith('Node peer · '),
      node.self,
    )

    // A 3 MiB file to everyone: sent to both at once, received by B, read by the Node peer.
    await a.page.setInputFiles('#file', {
      name: 'all.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(3 * 1024 * 1024, 5),
    })
    await row(b.page, 'all.bin', '←', 'received')
    await a.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li) =>
        li.textContent?.endsWith(`node peer received all.bin (${3 * 1024 * 1024} bytes)`),
      ),
    )
    expect(
      await a.page.$$eval(
        '#transfers li',
        (items) =>
          items.filter(
            (li) => li.textContent?.includes('all.bin →') && li.textContent.includes('— sent'),
          ).length,
      ),
    ).toBe(2)

    // A small file sent while a large one is still arriving: each row gets its own link.
    await a.page.selectOption('#send-to', b.id)
    await a.page.setInputFiles('#file', [
      {
        name: 'large.bin',
        mimeType: 'application/octet-stream',
        buffer: Buffer.alloc(16 * 1024 * 1024, 1),
      },
      { name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('small') },
    ])
    await row(b.page, 'small.txt', '←', 'received')
    await row(b.page, 'large.bin', '←', 'received')
    const links = await b.page.$$eval('#transfers li', (items) =>
      items
        .filter((li) => li.querySelector('a') !== null)
        .map((li) => [
          li.textContent?.split(' ← ')[0]?.trim(),
          [...li.querySelectorAll('a')].map((a) => a.download),
        ]),
    )
    expect(links).toEqual(
      expect.arrayContaining([
        ['small.txt', ['small.txt']],
        ['large.bin', ['large.bin']],
      ]),
    )

    // A rich value: every type arrives as itself.
    await a.page.click('#send-rich')
    await b.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some(
        (li) =>
          li.textContent?.includes(
            'sent a rich value: Date ✓, bigint ✓, Map ✓, Set ✓, Uint8Array ✓, RangeError with cause ✓, cycle ✓',
          ) === true,
      ),
    )

    // Leaving: one line for it, the id reset, the panels say to join.
    await a.page.click('#leave')
    await a.page.waitForFunction(() => document.getElementById('self-id')?.textContent === '—')
    const log = await a.page.$$eval('#log li', (items) => items.map((li) => li.textContent))
    expect(log[0]).toBe(`— you left "${room}" —`)
    expect(log.filter((line) => line?.endsWith(' left'))).toEqual([])
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
  } finally {
    node.leave()
  }
})
