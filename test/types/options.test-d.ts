/** Compile-only assertions for the public option types (run by `npm test` with the other type tests). */
import { describe, expectTypeOf, test } from 'vitest'
import type { JoinOptions, PeerId, Room } from '../../src/index.js'

describe('joinRoom options', () => {
  test('verifyToken gets the asking peer as a PeerId, usable with room.peers', () => {
    type VerifyToken = NonNullable<NonNullable<JoinOptions['code']>['verifyToken']>
    expectTypeOf<Parameters<VerifyToken>[2]>().toEqualTypeOf<PeerId>()
    const room = {} as Room
    const verify: VerifyToken = (_token, _id, peer) => room.peers.has(peer)
    expectTypeOf(verify).toBeFunction()
  })
})
