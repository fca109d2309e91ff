/**
 * The demo's values panel in Chromium, two demo pages in one room over real WebRTC: presence,
 * text, a file dropped for one peer (progress on both sides, a download link on the receiver), and
 * cancelling a large file mid-transfer (both sides show it stopped).
 */
import { expect, it } from 'vitest'
import type { Page } from 'playwright-core'
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
