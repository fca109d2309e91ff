/**
 * Node rooms joined in a fresh room name, resolved once each sees the others as connected peers
 * (`nodePair` for two, `nodeGroup` for more). Real WebRTC (node-datachannel by default) through
 * the real signaling server.
 *
 * No retry here: connection attempts that fail early are retried by the mesh itself
 * (docs/architecture.md, "Connection attempts"); a group that still fails fails the test.
 */
import { joinRoom } from '../../src/node.js'
import type { NodeJoinOptions } from '../../src/node.js'
import type { Peer, Room } from '../../src/index.js'
import { waitForPeers } from './events.js'

/** Two connected rooms and each one's view of the other. */
export interface NodePair {
  readonly a: Room
  readonly b: Room
  /** `b` as seen from `a` (looked up on each use: a reconnection replaces the Peer object). */
  readonly toB: Peer
  /** `a` as seen from `b` (looked up on each use). */
  readonly toA: Peer
  /** Leaves both rooms. */
  leave(): void
}

/** Per-side options (everything but `signaling` and `room`). */
export type PairSideOptions = Omit<NodeJoinOptions, 'signaling' | 'room'>

/** Options of {@link nodePair}. */
export interface NodePairOptions {
  readonly a?: PairSideOptions
  readonly b?: PairSideOptions
}

/** Joins `a` then `b` in a new room on `signaling`; resolves when both are connected. */
export async function nodePair(
  signaling: string,
  options: NodePairOptions = {},
): Promise<NodePair> {
  const [a, b] = (await nodeGroup(signaling, [options.a ?? {}, options.b ?? {}])) as [Room, Room]
  const peer = (from: Room, to: Room): Peer => {
    const found = from.peers.get(to.self)
    if (found === undefined) throw new Error(`${from.self} is not connected to ${to.self}`)
    return found
  }
  return {
    a,
    b,
    get toB() {
      return peer(a, b)
    },
    get toA() {
      return peer(b, a)
    },
    leave() {
      a.leave()
      b.leave()
    },
  }
}

class GroupFailed extends Error {}

/**
 * Joins one room per entry of `sides` (in order) in a new room name; resolves when every room
 * is connected to every other, rejects with what was seen when a connection fails.
 */
export async function nodeGroup(
  signaling: string,
  sides: readonly PairSideOptions[],
): Promise<Room[]> {
  const room = `group-${crypto.randomUUID()}`
  const rooms: Room[] = []
  const leaveAll = (): void => {
    for (const joined of rooms) joined.leave()
  }
  // A connection that fails is reported (an `error`, then a `leave`): fail with what was seen
  // instead of waiting for a peer that will not come.
  const seen: string[] = []
  let failed!: (error: Error) => void
  const failure = new Promise<never>((_, reject) => (failed = reject))
  const offs: Array<() => void> = []
  try {
    for (const [i, side] of sides.entries()) {
      const joined = await joinRoom({ ...side, signaling, room })
      rooms.push(joined)
      offs.push(
        joined.on('error', (error) => seen.push(`#${i}: ${describe(error)}`)),
        joined.on('leave', () =>
          failed(new GroupFailed(`rooms did not connect: ${seen.join('; ')}`)),
        ),
      )
    }
    const ids = rooms.map((joined) => joined.self)
    await Promise.race([
      Promise.all(
        rooms.map((joined) =>
          waitForPeers(
            joined,
            ids.filter((id) => id !== joined.self),
          ),
        ),
      ),
      failure,
    ])
    return rooms
  } catch (error) {
    leaveAll()
    throw error
  } finally {
    for (const off of offs) off()
  }
}

/** `CODE: message ← CODE: message …` along the cause chain. */
function describe(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  while (current instanceof Error && parts.length < 5) {
    parts.push(`${(current as { code?: string }).code ?? current.name}: ${current.message}`)
    current = current.cause
  }
  return parts.join(' ← ')
}
