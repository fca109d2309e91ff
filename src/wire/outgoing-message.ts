/**
 * One message being sent: its promise, its progress, and (for a message larger than one frame)
 * the cursor the scheduler advances one DATA chunk at a time. The bytes (one array, or parts whose
 * concatenation is the message) are referenced, not copied, until each chunk is framed: the caller
 * must not change them before the send settles.
 */
import { joinInto, totalLength } from '../bytes.js'
import type { PeerjectError } from '../errors.js'
import { DATA_LAYOUT, writeDataHeader } from './frame.js'

/** Options of `WireSession.sendMessage`. */
export interface SendOptions {
  /** Aborts the send: it rejects ERR_ABORTED and the receiver drops what it already got. */
  readonly signal?: AbortSignal
  /** Called as bytes are handed to the transport; monotonic, ends once at `(total, total)`. */
  readonly onProgress?: (sentBytes: number, totalBytes: number) => void
  /**
   * `false`: the message keeps no order with the other messages of its channel. It neither waits
   * for the messages sent before it nor holds back the ones sent after it, and is delivered when
   * its last byte arrives (order of completion). Default `true` (strict order per channel).
   */
  readonly ordered?: boolean
}

/**
 * Something the scheduler takes frames from in round-robin: a large message or an outgoing
 * stream. `take` and `handed` are always called in pairs, with no await between them.
 */
export interface BulkSource {
  /** Set by the scheduler while the source is in its rotation. */
  scheduled: boolean
  /**
   * The next frame (at most `maxFrame` bytes), or `undefined` when nothing can be sent now. With
   * `scratch` (at least `maxFrame` bytes, reused once the frame is handed over), the frame may be
   * a view of it instead of a new array.
   */
  take(maxFrame: number, scratch?: Uint8Array): Uint8Array | undefined
  /** The frame from the last `take` was handed to the transport. */
  handed(): void
}

/**
 * A new frame of `header` bytes followed by `bytes[offset, offset + length)`. When the payload has
 * at least `header` bytes before it, the frame is one `slice` (a copy that skips the zero-fill
 * `new Uint8Array` does, which costs as much as the copy itself); the caller overwrites those
 * leading bytes with the header. `Uint8Array.prototype.slice` is called explicitly because
 * Node's `Buffer#slice` returns a view, and writing the header would corrupt the caller's bytes.
 */
export function frameOf(
  bytes: Uint8Array,
  offset: number,
  length: number,
  header: number,
): Uint8Array {
  if (offset >= header) {
    const frame = Uint8Array.prototype.slice.call(bytes, offset - header, offset + length)
    frame.fill(0, 0, header)
    return frame
  }
  const frame = new Uint8Array(header + length)
  frame.set(bytes.subarray(offset, offset + length), header)
  return frame
}

/** A message's bytes: one array, or parts whose concatenation is the message. */
export type MessageBytes = Uint8Array | readonly Uint8Array[]

/** A message queued in, or moving through, the scheduler. */
export class OutgoingMessage implements BulkSource {
  readonly channel: number
  readonly total: number
  readonly promise: Promise<void>
  /** False when the message keeps no order within its channel (`SendOptions.ordered`). */
  readonly ordered: boolean
  scheduled = false
  /** Message id, assigned when a large message is admitted. */
  id = 0
  /** Bytes handed to the transport so far. */
  sent = 0
  /** Settled (resolved, rejected or aborted): the scheduler skips it. */
  settled = false
  #chunk = 0
  #parts: readonly Uint8Array[]
  /** The part holding byte `sent`, and where in it that byte is. */
  #part = 0
  #partOffset = 0
  #resolve!: () => void
  #reject!: (error: PeerjectError) => void
  readonly #onProgress: SendOptions['onProgress']
  readonly #signal: AbortSignal | undefined
  readonly #onAbort: (() => void) | undefined

  /** `abort` is called (once) when the signal fires before the last byte was handed over. */
  constructor(
    channel: number,
    bytes: MessageBytes,
    options: SendOptions,
    abort: (message: OutgoingMessage) => void,
  ) {
    this.channel = channel
    if (bytes instanceof Uint8Array) {
      this.#parts = [bytes]
      this.total = bytes.byteLength
    } else {
      this.#parts = bytes
      this.total = totalLength(bytes)
    }
    this.ordered = options.ordered !== false
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#onProgress = options.onProgress
    this.#signal = options.signal
    if (this.#signal !== undefined) {
      this.#onAbort = () => {
        if (!this.settled && this.sent < this.total) abort(this)
      }
      this.#signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  /** The whole message as one array (for small messages, which go out whole in a BATCH). */
  get bytes(): Uint8Array {
    const parts = this.#parts
    if (parts.length !== 1) this.#parts = [joinInto(parts, new Uint8Array(this.total))]
    return this.#parts[0]!
  }

  /** True when every byte has been handed over. */
  get complete(): boolean {
    return this.sent === this.total
  }

  take(maxFrame: number, scratch?: Uint8Array): Uint8Array | undefined {
    if (this.settled || this.sent === this.total) return undefined
    const length = Math.min(this.total - this.sent, maxFrame - DATA_LAYOUT.SIZE)
    const frame = this.#frame(length, scratch)
    writeDataHeader(frame, this.channel, this.id, this.sent, this.total)
    this.#chunk = length
    return frame
  }

  /** A DATA frame (header zero) carrying the next `length` bytes, in `scratch` when given. */
  #frame(length: number, scratch: Uint8Array | undefined): Uint8Array {
    const parts = this.#parts
    let part = parts[this.#part]!
    let offset = this.#partOffset
    let frame: Uint8Array
    if (scratch !== undefined) {
      frame = scratch.subarray(0, DATA_LAYOUT.SIZE + length)
      frame.fill(0, 0, DATA_LAYOUT.SIZE)
    } else if (part.byteLength - offset >= length) {
      return frameOf(part, offset, length, DATA_LAYOUT.SIZE)
    } else {
      frame = new Uint8Array(DATA_LAYOUT.SIZE + length)
    }
    let at = DATA_LAYOUT.SIZE
    let index = this.#part
    while (at < frame.byteLength) {
      const take = Math.min(part.byteLength - offset, frame.byteLength - at)
      frame.set(part.subarray(offset, offset + take), at)
      at += take
      offset = 0
      part = parts[++index] ?? part
    }
    return frame
  }

  handed(): void {
    this.sent += this.#chunk
    // Advance the part cursor past the handed bytes.
    let offset = this.#partOffset + this.#chunk
    const parts = this.#parts
    while (this.#part < parts.length - 1 && offset >= parts[this.#part]!.byteLength) {
      offset -= parts[this.#part]!.byteLength
      this.#part++
    }
    this.#partOffset = offset
    this.#chunk = 0
    this.#progress()
    if (this.sent === this.total) this.resolve()
  }

  /** The whole message went out inside one BATCH frame. */
  handedWhole(): void {
    this.sent = this.total
    this.#progress()
    this.resolve()
  }

  /** Settles successfully. */
  resolve(): void {
    if (this.settled) return
    this.#settle()
    this.#resolve()
  }

  /** Settles with `error`. */
  reject(error: PeerjectError): void {
    if (this.settled) return
    this.#settle()
    this.#reject(error)
  }

  #settle(): void {
    this.settled = true
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort)
  }

  #progress(): void {
    if (this.#onProgress === undefined) return
    try {
      this.#onProgress(this.sent, this.total)
    } catch (error) {
      // A throwing callback must not break the send; report it as an uncaught error.
      queueMicrotask(() => {
        throw error
      })
    }
  }
}
