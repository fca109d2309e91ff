/**
 * The demo's references panel in Chromium: the demo (vite.config.ts, root `demo/`) is served by a
 * Vite dev server on port 0; two pages join one room through the real signaling server, and a Node
 * peer joins too. Page A picks page B's counter, sees it live (a callback it registered on B), and
 * changes it with +1 / −1; B sees its own counter change; a Node peer's call on B's counter shows
 * up on A through the callback; A edits B's board.
 */
import { afterAll, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'
import { waitForPeers } from '../helpers/events.js'
import { useDemo } from '../helpers/demo-server.js'

const demo = useDemo()
let node: Room | undefined

afterAll(() => {
  node?.leave()
})

/** Picks `peer` in the panel's peer list and waits until its counter is shown. */
async function pick(page: Page, peer: PeerId): Promise<void> {
  await page.waitForSelector(`select[data-refs-peer] option[value="${peer}"]`, {
    state: 'attached',
  })
  await page.selectOption('select[data-refs-peer]', peer)
  await page.waitForSelector('[data-refs-remote]:not([hidden]) [data-refs-value][data-value]')
}

const valueIs = (page: Page, selector: string, value: string): Promise<unknown> =>
  page.waitForFunction(([s, v]) => document.querySelector(s)?.textContent === v, [
    selector,
    value,
  ] as const)

it('page A drives page B counter and board through the references panel', async () => {
  const room = `demo-refs-${crypto.randomUUID()}`
  const a = await demo.open(room)
  const b = await demo.open(room)
  await pick(a.page, b.id)
  await pick(b.page, a.id)
  expect(await a.page.getAttribute('[data-refs-value]', 'data-value')).toBe('0')
  const names = await a.page.$$eval('[data-refs-names] li', (items) =>
    items.map((item) => item.textContent),
  )
  expect(names).toEqual(expect.arrayContaining(['counter', 'board']))

  // +1 on A calls B's counter; B's own display and A's view both update.
  await a.page.getByRole('button', { name: "Increase the peer's counter" }).click()
  await valueIs(a.page, '[data-refs-value]', '1')
  await valueIs(b.page, '[data-refs-own-value]', '1')
  await a.page.click('[data-refs-action=inc]')
  await a.page.click('[data-refs-action=dec]')
  await a.page.click('[data-refs-action=inc]')
  await valueIs(a.page, '[data-refs-value]', '2')
  await valueIs(b.page, '[data-refs-own-value]', '2')
  // B changes A's counter the same way (the other direction).
  await b.page.click('[data-refs-action=dec]')
  await valueIs(a.page, '[data-refs-own-value]', '-1')

  // A third party (a Node peer) changes B's counter: A sees it through its registered callback.
  node = await joinRoom({ signaling: demo.signaling, room })
  await waitForPeers(node, [a.id, b.id])
  const bCounter = node.peers.get(b.id)?.resolve<{ add(n: number): number }>('counter')
  expect(await bCounter?.add(5)).toBe(7)
  await valueIs(a.page, '[data-refs-value]', '7')
  await valueIs(b.page, '[data-refs-own-value]', '7')

  // A edits B's board: add two notes, remove one.
  await a.page.getByLabel('Note').fill('first note')
  await a.page.getByRole('button', { name: 'Add' }).click()
  await a.page.fill('[data-refs-note-text]', 'second note')
  await a.page.press('[data-refs-note-text]', 'Enter')
  await a.page.waitForFunction(() => document.querySelectorAll('[data-refs-notes] li').length === 2)
  const board = node.peers.get(b.id)?.resolve<{ list(): Array<{ text: string }> }>('board')
  expect((await board?.list())?.map((note) => note.text)).toEqual(['first note', 'second note'])
  await a.page.getByRole('button', { name: 'Remove note "first note"' }).click()
  await a.page.waitForFunction(() => document.querySelectorAll('[data-refs-notes] li').length === 1)
  expect((await board?.list())?.map((note) => note.text)).toEqual(['second note'])

  // A remote error is shown, not thrown: an empty note is refused by B's board.
  await a.page.evaluate(() => {
    const input = document.querySelector<HTMLInputElement>('[data-refs-note-text]')
    if (input !== null) input.required = false
  })
  await a.page.click('[data-refs-action=add-note]')
  await a.page.waitForFunction(() =>
    (document.querySelector('[data-refs-error]')?.textContent ?? '').includes('1 to 200'),
  )

  // Leaving unmounts the panel.
  await a.page.click('#leave')
  await a.page.waitForFunction(() => document.querySelector('[data-refs-peer]') === null)
  // The refused note was shown in the panel, not thrown; no request of either page failed.
  expect(a.errors).toEqual([])
  expect(b.errors).toEqual([])
  await a.page.context().close()
  await b.page.context().close()
})
