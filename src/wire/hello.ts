/**
 * The HELLO exchange: each side sends one HELLO as its first frame, advertising its protocol
 * version and what it accepts. The frame size both sides then use is the smallest of the two
 * advertised maxima and the transport's `maxMessageSize` (docs/protocol.md, "Negotiation").
 */
import { PeerjectError } from '../errors.js'
import type { HelloFields } from './frame.js'
import type { WireLimits } from './limits.js'
import { MAX_U32, MIN_CHUNK_BYTES } from './limits.js'

/** The HELLO this side sends, from its limits and its transport's message size. */
export function localHello(limits: WireLimits, transportMaxMessageSize: number): HelloFields {
  return {
    maxChunkBytes: Math.min(limits.maxChunkBytes, transportMaxMessageSize, MAX_U32),
    maxMessageBytes: limits.maxMessageBytes,
    maxReassembling: limits.maxReassembling,
    maxReassemblyBytes: limits.maxReassemblyBytes,
    maxStreams: limits.maxStreams,
    streamWindowBytes: limits.streamWindowBytes,
  }
}

/**
 * Checks the peer's HELLO values (the version was checked by the parser). Throws ERR_BAD_MESSAGE
 * for values the protocol cannot work with.
 */
export function checkPeerHello(peer: HelloFields): void {
  if (peer.maxChunkBytes < MIN_CHUNK_BYTES) {
    throw new PeerjectError(
      'ERR_BAD_MESSAGE',
      `the peer accepts frames of at most ${peer.maxChunkBytes} bytes; the wire needs at least ${MIN_CHUNK_BYTES}`,
    )
  }
  for (const key of ['maxReassembling', 'maxStreams', 'streamWindowBytes'] as const) {
    if (peer[key] === 0) {
      throw new PeerjectError('ERR_BAD_MESSAGE', `the peer advertises ${key} = 0 in its HELLO`)
    }
  }
}

/** The frame size both sides use once the HELLOs are exchanged. */
export function negotiateChunkBytes(local: HelloFields, peer: HelloFields): number {
  return Math.min(local.maxChunkBytes, peer.maxChunkBytes)
}
