/** Awaiting events instead of sleeping. */
import type { Peer, Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'

/** Resolves when `room.peers` holds every id in `ids` (immediately if it already does). */
export function waitForPeers(room: Room, ids: readonly PeerId[]): Promise<Peer[]> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      if (!ids.every((id) => room.peers.has(id))) return false
      off()
      resolve(ids.map((id) => room.peers.get(id) as Peer))
      return true
    }
    const off = room.on('peer', () => void check())
    check()
  })
}

/** Resolves with the next `leave` of `id` in `room`. */
export function waitForLeave(room: Room, id: PeerId): Promise<void> {
  return new Promise((resolve) => {
    const off = room.on('leave', (peer) => {
      if ((typeof peer === 'string' ? peer : peer.id) !== id) return
      off()
      resolve()
    })
  })
}

/** Resolves with the next value `room` receives that passes `match`. */
export function nextMessage(
  room: Room,
  match: (value: unknown) => boolean = () => true,
): Promise<{ value: unknown; from: Peer }> {
  return new Promise((resolve) => {
    const off = room.on('message', (value, from) => {
      if (!match(value)) return
      off()
      resolve({ value, from })
    })
  })
}
