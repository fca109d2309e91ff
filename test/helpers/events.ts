/** Awaiting events instead of sleeping. */
import type { Peer, Room } from '../../src/index.js'
import type { PeerId } from '../../src/ids.js'

/**
 * Resolves when `room.peers` holds every id in `ids` (immediately if it already does); rejects,
 * naming the reason, when one of them is reported as gone instead (so a failed connection fails
 * the test at once, with its cause, rather than at the test's timeout).
 */
export function waitForPeers(room: Room, ids: readonly PeerId[]): Promise<Peer[]> {
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = []
    const done = (): void => {
      for (const off of offs) off()
    }
    const check = (): void => {
      if (!ids.every((id) => room.peers.has(id))) return
      done()
      resolve(ids.map((id) => room.peers.get(id) as Peer))
    }
    offs.push(
      room.on('peer', check),
      room.on('leave', (peer, reason) => {
        const id = typeof peer === 'string' ? peer : peer.id
        if (!ids.includes(id)) return
        done()
        reject(
          new Error(
            `peer ${id} left before the room was complete: ${reason?.code} ${reason?.message}`,
            { cause: reason },
          ),
        )
      }),
    )
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
