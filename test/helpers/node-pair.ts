/**
 * Two Node rooms joined in a fresh room name, resolved once each sees the other as a connected
 * peer. Real WebRTC (node-datachannel by default) through the real signaling server.
 */
import { joinRoom } from '../../src/node.js'
import type { NodeJoinOptions } from '../../src/node.js'
import type { Peer, Room } from '../../src/index.js'
import { waitForPeers } from './events.js'

/** Two connected rooms and each one's view of the other. */
export interface NodePair {
  readonly a: Room
  readonly b: Room
  /** `b` as seen from `a`. */
  readonly toB: Peer
  /** `a` as seen from `b`. */
  readonly toA: Peer
  /** Leaves both rooms. */
  leave(): void
}

/** Per-side options (everything but `signaling` and `room`). */
export type PairSideOptions = Omit<NodeJoinOptions, 'signaling' | 'room'>

/** Joins `a` then `b` in a new room on `signaling`; resolves when both are connected. */
export async function nodePair(
  signaling: string,
  options: { readonly a?: PairSideOptions; readonly b?: PairSideOptions } = {},
): Promise<NodePair> {
  const room = `pair-${crypto.randomUUID()}`
  const a = await joinRoom({ ...options.a, signaling, room })
  let b: Room
  try {
    b = await joinRoom({ ...options.b, signaling, room })
  } catch (error) {
    a.leave()
    throw error
  }
  const [[toB], [toA]] = await Promise.all([waitForPeers(a, [b.self]), waitForPeers(b, [a.self])])
  return {
    a,
    b,
    toB: toB!,
    toA: toA!,
    leave() {
      a.leave()
      b.leave()
    },
  }
}
