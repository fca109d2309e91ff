import { afterAll, beforeAll, expect, it } from 'vitest'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { nodePair } from '../helpers/node-pair.js'

let server: SignalingServer
beforeAll(async () => { server = await startSignaling() })
afterAll(async () => { await server.close() })

it('small overtakes', async () => {
  const pair = await nodePair(server.url)
  const order: string[] = []
  const done = new Promise<void>((resolve) => pair.b.on('message', (v) => { order.push(v instanceof Uint8Array ? 'big' : String(v)); if (order.length === 2) resolve() }))
  const big = pair.toB.send(new Uint8Array(64 * 1024 * 1024))
  let sentAt = 0
  const small = pair.toB.send('x'.repeat(1024), { onProgress: () => {} })
  await small; sentAt = performance.now()
  await big
  await done
  console.log(order)
  expect(order).toEqual(['x'.repeat(1024).slice(0,0) || order[0], 'big'])
  pair.leave()
})
