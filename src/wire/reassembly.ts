/**
 * Bounded reassembly of chunked messages (receiver side). A message's buffer is allocated once, on
 * its first chunk, after its announced total is checked against the limits; every later chunk is
 * copied into it in order. What a peer can make this side hold is bounded by `maxReassembling`
 * messages and `maxReassemblyBytes` in total (one message alone may use up to `maxMessageBytes`).
 *
 * Violations throw `PeerjectError`; the session turns them into a coded close.
 */
import { PeerjectError, formatBytes } from '../errors.js'
import type { WireLimits } from './limits.js'

interface PartialMessage {
  readonly channel: number
  readonly buffer: Uint8Array
  received: number
}

/** Reassembles DATA chunks into whole messages. */
export class Reassembler {
  readonly #limits: WireLimits
  readonly #partials = new Map<number, PartialMessage>()
  #bytes = 0

  constructor(limits: WireLimits) {
    this.#limits = limits
  }

  /** Messages being reassembled. */
  get count(): number {
    return this.#partials.size
  }

  /** Bytes allocated for messages being reassembled. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * Takes one chunk (already checked by the parser: `offset + payload ≤ total`). Returns the whole
   * message when this chunk completes it, else `undefined`. A message that fits one chunk is
   * returned as the chunk's own view, without a copy.
   */
  add(
    channel: number,
    messageId: number,
    offset: number,
    total: number,
    payload: Uint8Array,
  ): Uint8Array | undefined {
    this.checkTotal(total)
    const partial = this.#partials.get(messageId)
    if (offset === 0) {
      if (partial !== undefined) throw bad(`message ${messageId} restarted while in progress`)
      if (payload.byteLength === total) return payload
      if (payload.byteLength === 0) throw bad(`message ${messageId} starts with an empty chunk`)
      return this.#start(channel, messageId, total, payload)
    }
    if (partial === undefined) throw bad(`chunk for message ${messageId}, which never started`)
    if (partial.channel !== channel || partial.buffer.byteLength !== total) {
      throw bad(`chunk of message ${messageId} changes its channel or total length`)
    }
    if (offset !== partial.received) {
      throw bad(`chunk of message ${messageId} at offset ${offset}, expected ${partial.received}`)
    }
    if (payload.byteLength === 0) throw bad(`empty middle chunk in message ${messageId}`)
    partial.buffer.set(payload, offset)
    partial.received += payload.byteLength
    if (partial.received < total) return undefined
    this.#partials.delete(messageId)
    this.#bytes -= total
    return partial.buffer
  }

  /** Throws ERR_TOO_LARGE for a message of `total` bytes over `maxMessageBytes`. */
  checkTotal(total: number): void {
    if (total > this.#limits.maxMessageBytes) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `the peer sent a message of ${formatBytes(total)}, over maxMessageBytes (${formatBytes(this.#limits.maxMessageBytes)}); raise it in the wire limits or send a byte stream`,
      )
    }
  }

  /** Drops a message the sender cancelled. Unknown ids are ignored (it may have completed). */
  cancel(messageId: number): void {
    const partial = this.#partials.get(messageId)
    if (partial === undefined) return
    this.#partials.delete(messageId)
    this.#bytes -= partial.buffer.byteLength
  }

  /** Drops everything (session closed). */
  clear(): void {
    this.#partials.clear()
    this.#bytes = 0
  }

  #start(channel: number, messageId: number, total: number, payload: Uint8Array): undefined {
    const limits = this.#limits
    if (this.#partials.size >= limits.maxReassembling) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `the peer has more than maxReassembling (${limits.maxReassembling}) messages in flight`,
      )
    }
    if (this.#partials.size > 0 && this.#bytes + total > limits.maxReassemblyBytes) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `the peer's messages in flight exceed maxReassemblyBytes (${formatBytes(limits.maxReassemblyBytes)})`,
      )
    }
    let buffer: Uint8Array
    try {
      buffer = new Uint8Array(total)
    } catch (error) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `could not allocate ${formatBytes(total)} for an incoming message; lower maxMessageBytes`,
        { cause: error },
      )
    }
    buffer.set(payload, 0)
    this.#partials.set(messageId, { channel, buffer, received: payload.byteLength })
    this.#bytes += total
    return undefined
  }
}

function bad(message: string): PeerjectError {
  return new PeerjectError('ERR_BAD_MESSAGE', `malformed message from peer: ${message}`)
}
