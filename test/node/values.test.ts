import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { nodePair } from '../helpers/node-pair.js'
import { nextMessage } from '../helpers/events.js'

let server: SignalingServer
beforeAll(async () => { server = await startSignaling() })
afterAll(async () => { await server.close() })

it('100 MiB', async () => {
  const pair = await nodePair(server.url)
  const big = new Uint8Array(60 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff
  const floats = new Float64Array(5 * 1024 * 1024)
  for (let i = 0; i < floats.length; i++) floats[i] = i * 0.5
  const t0 = performance.now()
  const got = nextMessage(pair.b)
  await pair.toB.send({ name: 'x', parts: [big, floats], meta: { n: 1 } })
  const t1 = performance.now()
  const { value } = await got
  const t2 = performance.now()
  console.log('send', t1 - t0, 'recv', t2 - t0, process.memoryUsage().rss / 2 ** 20)
  const v = value as { parts: [Uint8Array, Float64Array] }
  expect(createHash('sha256').update(v.parts[0]).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'))
  pair.leave()
})
