import { afterAll, beforeAll, it } from 'vitest'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { nodePair } from '../helpers/node-pair.js'
import { joinRoom } from '../../src/node.js'

let server: SignalingServer
beforeAll(async () => {
  server = await startSignaling()
})
afterAll(async () => {
  await server.close()
})

it('pairs', async () => {
  let stuck = 0
  for (let i = 0; i < 60; i++) {
    const room = 'r' + crypto.randomUUID()
    const a = await joinRoom({ signaling: server.url, room })
    const b = await joinRoom({ signaling: server.url, room })
    const t0 = performance.now()
    const causes = (e: unknown): string => {
      const out: string[] = []
      let x: any = e
      while (x) {
        out.push(`${x.code ?? x.name}: ${x.message}`)
        x = x.cause
      }
      return out.join(' <- ')
    }
    const r = await new Promise<string>((resolve) => {
      let n = 0
      for (const room of [a, b]) {
        room.on('peer', () => {
          if (++n === 2) resolve('ok')
        })
        room.on('error', (e) =>
          resolve('ERR ' + Math.round(performance.now() - t0) + ' ' + causes(e)),
        )
      }
    })
    if (r !== 'ok') {
      stuck++
      console.log(i, r)
    }
    a.leave()
    b.leave()
  }
  console.log('failed', stuck)
}, 300000)
