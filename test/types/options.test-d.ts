/** Compile-only assertions for the public option types (run by `npm test` with the other type tests). */
import { describe, expectTypeOf, test } from 'vitest'
import type { JoinOptions, Peer, PeerId, Room } from '../../src/index.js'

describe('joinRoom options', () => {
  test('verifyToken gets the asking peer as a PeerId, usable with room.peers', () => {
    type VerifyToken = NonNullable<NonNullable<JoinOptions['code']>['verifyToken']>
    expectTypeOf<Parameters<VerifyToken>[2]>().toEqualTypeOf<PeerId>()
    const room = {} as Room
    const verify: VerifyToken = (_token, _id, peer) => room.peers.has(peer)
    expectTypeOf(verify).toBeFunction()
  })
})

describe('room.peers', () => {
  test('get and has take a plain string (an id from a form or a message); keys are PeerIds', () => {
    const room = {} as Room
    const fromForm: string = 'b5e1…'
    expectTypeOf(room.peers.get(fromForm)).toEqualTypeOf<Peer | undefined>()
    expectTypeOf(room.peers.has(fromForm)).toEqualTypeOf<boolean>()
    for (const id of room.peers.keys()) expectTypeOf(id).toEqualTypeOf<PeerId>()
    // @ts-expect-error an id is a string
    room.peers.get(42)
  })
})
