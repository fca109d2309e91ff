/**
 * Ping-pong helpers of {@link BenchSide}: raw bytes on a spare wire channel, and peerject values;
 * plus the small lookups the side needs.
 */
import type { PeerId } from '../src/ids.js'
import type { Peer, Room } from '../src/index.js'

/** Wire channel used for raw ping-pong (0–2 are peerject's; the room ignores the others). */
export const RAW_CHANNEL = 9

/** Sends pings and stops listening. */
export interface RawPinger {
  /** 8 bytes (`seq`) out on {@link RAW_CHANNEL}; resolves when the same 8 bytes come back. */
  ping(seq: number): Promise<void>
  stop(): void
}

/** Raw ping over the wire's spare channel (the other side echoes, see `BenchSide.serve`). */
export function createRawPinger(peer: Peer): RawPinger {
  const waiting = new Map<number, () => void>()
  const stop = peer.wire.on('message', (channel, bytes) => {
    if (channel !== RAW_CHANNEL || bytes.byteLength !== 8) return
    const seq = new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0)
    waiting.get(seq)?.()
    waiting.delete(seq)
  })
  return {
    ping: (seq) =>
      new Promise<void>((resolve, reject) => {
        const bytes = new Uint8Array(8)
        new DataView(bytes.buffer).setFloat64(0, seq)
        waiting.set(seq, resolve)
        peer.wire.sendMessage(RAW_CHANNEL, bytes).catch(reject)
      }),
    stop,
  }
}

/** Sequential value ping-pong. */
export interface ValuePinger {
  /** One `{ ping, pad }` out, resolves with the ms until its `{ pong }` came back. */
  ping(): Promise<number>
  stop(): void
}

/** peerject value ping-pong: `{ ping, pad }` out, `{ pong, pad }` back (echoed by `serve`). */
export function createValuePinger(room: Room, peer: Peer, padBytes: number): ValuePinger {
  const pad = new Uint8Array(padBytes).fill(1)
  let seq = 0
  let waiter: { seq: number; resolve: () => void } | undefined
  const stop = room.on('message', (value) => {
    const pong = (value as { pong?: unknown }).pong
    if (waiter !== undefined && pong === waiter.seq) waiter.resolve()
  })
  return {
    ping: async () => {
      const current = seq++
      const started = performance.now()
      const back = new Promise<void>((resolve) => (waiter = { seq: current, resolve }))
      await peer.send({ ping: current, pad })
      await back
      return performance.now() - started
    },
    stop,
  }
}

/** One line for a close reason or error (with its cause's message). */
export function describe(error: { code?: string; message: string } | undefined): string {
  if (error === undefined) return 'clean close'
  const cause = (error as { cause?: { message?: unknown } }).cause?.message
  return `${error.code ?? 'Error'} ${error.message}${typeof cause === 'string' ? ` ← ${cause}` : ''}`
}

/** Resolves with the room's peer `id` once it is connected. */
export function waitForPeer(room: Room, id: PeerId): Promise<Peer> {
  return new Promise((resolve) => {
    const found = room.peers.get(id)
    if (found !== undefined) return resolve(found)
    const off = room.on('peer', (peer) => {
      if (peer.id !== id) return
      off()
      resolve(peer)
    })
  })
}
