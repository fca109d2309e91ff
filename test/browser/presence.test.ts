/**
 * Issue 2 in Chromium: two pages and one Node peer in one room see each other over real WebRTC
 * through the real signaling server; a closed page is announced as left to the rest.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { startBrowser } from '../helpers/browser.js'
import type { BrowserFixture } from '../helpers/browser.js'
import { waitForLeave, waitForPeers } from '../helpers/events.js'
import type { PeerId } from '../../src/ids.js'

let server: SignalingServer
let fixture: BrowserFixture
let node: Room | undefined

beforeAll(async () => {
  ;[server, fixture] = await Promise.all([startSignaling(), startBrowser()])
})
afterAll(async () => {
  node?.leave()
  await fixture.close()
  await server.close()
})

/** Page-side: joins the room and records presence into window.presence. */
const JOIN = `async ([signaling, room]) => {
  const joined = await window.peerject.joinRoom({ signaling, room })
  window.room = joined
  window.presence = { peers: new Set(), left: [] }
  joined.on('peer', (p) => window.presence.peers.add(p.id))
  joined.on('leave', (p) => { const id = typeof p === 'string' ? p : p.id; window.presence.peers.delete(id); window.presence.left.push(id) })
  return joined.self
}`

it('two pages and a Node peer form a mesh; a closed page is announced as left', async () => {
  const pageA = await fixture.openPage()
  const pageB = await fixture.openPage()
  const idA = (await pageA.evaluate(
    `(${JOIN})(${JSON.stringify([server.url, 'browser-room'])})`,
  )) as PeerId
  const idB = (await pageB.evaluate(
    `(${JOIN})(${JSON.stringify([server.url, 'browser-room'])})`,
  )) as PeerId
  node = await joinRoom({ signaling: server.url, room: 'browser-room' })
  await waitForPeers(node, [idA, idB])

  const hasPeers = (ids: string[]) =>
    `(${JSON.stringify(ids)}).every((id) => window.presence.peers.has(id))`
  await pageA.waitForFunction(hasPeers([idB, node.self]))
  await pageB.waitForFunction(hasPeers([idA, node.self]))

  const nodeSeesLeave = waitForLeave(node, idA)
  await pageA.close()
  await nodeSeesLeave
  await pageB.waitForFunction(`window.presence.left.includes(${JSON.stringify(idA)})`)
  expect(node.peers.has(idA)).toBe(false)
  expect(await pageB.evaluate(`window.room.peers.has(${JSON.stringify(idA)})`)).toBe(false)
})
