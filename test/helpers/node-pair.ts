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
  // A connection that fails is reported (ERR_CONNECT after connectTimeoutMs): fail with it
  // instead of waiting for a peer that will not come.
  const seen: string[] = []
  const offs = [a, b].flatMap((room, i) => [
    room.on('error', (error) => seen.push(`${'ab'[i]} error ${error.code}: ${error.message}`)),
    room.on('leave', (peer, reason) => seen.push(`${'ab'[i]} leave ${String(reason?.code)}`)),
  ])
  let failed!: (error: Error) => void
  const failure = new Promise<never>((_, reject) => (failed = reject))
  offs.push(
    ...[a, b].map((room) =>
      room.on('leave', () => failed(new Error(`pair did not connect: ${seen.join('; ')}`))),
    ),
  )
  let toB: Peer | undefined
  let toA: Peer | undefined
  try {
    ;[[toB], [toA]] = await Promise.race([
      Promise.all([waitForPeers(a, [b.self]), waitForPeers(b, [a.self])]),
      failure,
    ])
  } catch (error) {
    a.leave()
    b.leave()
    throw error
  } finally {
    for (const off of offs) off()
  }
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
