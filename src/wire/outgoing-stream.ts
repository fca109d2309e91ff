/**
 * The sending half of a byte stream. Data goes out as STREAM_DATA frames only while the reader's
 * credit allows (initially the peer's advertised `streamWindowBytes`, then whatever its
 * STREAM_CREDIT frames grant), so a reader that stops reading stops the writer: end-to-end
 * backpressure. Exactly one STREAM_END or STREAM_ABORT ends every stream on the wire.
 */
import { PeerjectError } from '../errors.js'
import { Fifo } from './fifo.js'
import {
  FRAME_KIND,
  STREAM_LAYOUT,
  encodeStreamEnd,
  encodeStreamReason,
  writeStreamHeader,
} from './frame.js'
import type { BulkSource } from './outgoing-message.js'
import { frameOf } from './outgoing-message.js'

/** The sending side of a byte stream (see `WireSession.openStream`). */
export interface OutgoingStream {
  /** Stream id; the receiver passes it to `acceptStream` (it travels inside a message). */
  readonly id: number
  /**
   * Queues `chunk`; resolves once all of it is handed to the transport, which happens only as
   * the reader's credit allows. The chunk must not change until then. Aborting `signal` aborts the
   * whole stream. Rejects ERR_ABORTED (aborted or cancelled by the reader), ERR_CLOSED.
   */
  write(chunk: Uint8Array, options?: { readonly signal?: AbortSignal }): Promise<void>
  /** Ends the stream after the queued writes; resolves when STREAM_END is handed over. */
  end(): Promise<void>
  /** Aborts the stream: queued writes reject, the reader's stream errors with `reason`. */
  abort(reason?: PeerjectError): void
  /**
   * Settles once the stream is over on this side: `undefined` after STREAM_END was handed over,
   * else why it failed (aborted, cancelled by the reader, session closed). Never rejects.
   */
  readonly finished: Promise<PeerjectError | undefined>
}

/** What a stream needs from its session. */
export interface StreamHost {
  /** The peer's window: the credit a new stream starts with. */
  initialCredit(): number
  activate(source: BulkSource): void
  deactivate(source: BulkSource): void
  control(frame: Uint8Array): void
  /** The stream ended on the wire (END or ABORT handed over); forget it. */
  finished(stream: OutgoingStreamSource): void
}

interface Pending {
  readonly chunk: Uint8Array | undefined // undefined: the end marker
  offset: number
  readonly resolve: () => void
  readonly reject: (error: PeerjectError) => void
}

/** An outgoing stream as the scheduler sees it. */
export class OutgoingStreamSource implements OutgoingStream, BulkSource {
  readonly id: number
  readonly channel: number
  scheduled = false
  readonly finished: Promise<PeerjectError | undefined>
  readonly #settleFinished: (reason: PeerjectError | undefined) => void
  readonly #host: StreamHost
  readonly #queue = new Fifo<Pending>()
  #credit: number | undefined
  #state: 'open' | 'ending' | 'done' = 'open'
  #taken = 0 // bytes in the frame last taken; -1 for the END frame

  constructor(id: number, channel: number, host: StreamHost) {
    this.id = id
    this.channel = channel
    this.#host = host
    let settle!: (reason: PeerjectError | undefined) => void
    this.finished = new Promise((resolve) => (settle = resolve))
    this.#settleFinished = settle
  }

  /** Bytes the reader currently lets us send (the window before the first frame). */
  get credit(): number {
    return this.#credit ?? this.#host.initialCredit()
  }

  write(chunk: Uint8Array, options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== 'open') {
      return Promise.reject(new PeerjectError('ERR_CLOSED', `stream ${this.id} has ended`))
    }
    const signal = options.signal
    if (signal?.aborted === true) {
      this.abort(new PeerjectError('ERR_ABORTED', `a write to stream ${this.id} was aborted`))
      return Promise.reject(new PeerjectError('ERR_ABORTED', `stream ${this.id} was aborted`))
    }
    if (chunk.byteLength === 0) return Promise.resolve()
    const promise = this.#enqueue(chunk)
    if (signal !== undefined) {
      const onAbort = (): void =>
        this.abort(new PeerjectError('ERR_ABORTED', `a write to stream ${this.id} was aborted`))
      signal.addEventListener('abort', onAbort, { once: true })
      const off = (): void => signal.removeEventListener('abort', onAbort)
      promise.then(off, off)
    }
    return promise
  }

  end(): Promise<void> {
    if (this.#state !== 'open') {
      return Promise.reject(new PeerjectError('ERR_CLOSED', `stream ${this.id} has ended`))
    }
    this.#state = 'ending'
    return this.#enqueue(undefined)
  }

  abort(reason?: PeerjectError): void {
    if (this.#state === 'done') return
    const error = reason ?? new PeerjectError('ERR_ABORTED', `stream ${this.id} was aborted`)
    this.#finish(error)
    this.#host.control(
      encodeStreamReason(FRAME_KIND.STREAM_ABORT, this.id, {
        code: error.code,
        message: error.message,
      }),
    )
  }

  /** STREAM_CREDIT from the reader. */
  addCredit(bytes: number): void {
    if (this.#state === 'done') return
    this.#credit = Math.min(this.credit + bytes, Number.MAX_SAFE_INTEGER)
    if (this.#queue.length > 0) this.#host.activate(this)
  }

  /** STREAM_CANCEL from the reader: fail the writer, and acknowledge with STREAM_ABORT. */
  cancelled(reason: PeerjectError): void {
    if (this.#state === 'done') return
    this.abort(reason)
  }

  /** The session closed. */
  fail(error: PeerjectError): void {
    if (this.#state === 'done') return
    this.#finish(error)
  }

  take(maxFrame: number): Uint8Array | undefined {
    const head = this.#queue.peek()
    if (head === undefined || this.#state === 'done') return undefined
    if (head.chunk === undefined) {
      this.#taken = -1
      return encodeStreamEnd(this.id)
    }
    const credit = this.credit
    if (credit <= 0) return undefined
    const length = Math.min(
      head.chunk.byteLength - head.offset,
      credit,
      maxFrame - STREAM_LAYOUT.SIZE,
    )
    const frame = frameOf(head.chunk, head.offset, length, STREAM_LAYOUT.SIZE)
    writeStreamHeader(frame, FRAME_KIND.STREAM_DATA, this.id)
    this.#taken = length
    return frame
  }

  handed(): void {
    const head = this.#queue.peek()
    if (head === undefined) return
    if (this.#taken === -1) {
      this.#queue.shift()
      this.#state = 'done'
      this.#host.deactivate(this)
      this.#host.finished(this)
      this.#settleFinished(undefined)
      head.resolve()
      return
    }
    head.offset += this.#taken
    this.#credit = this.credit - this.#taken
    this.#taken = 0
    if (head.offset === head.chunk?.byteLength) {
      this.#queue.shift()
      head.resolve()
    }
  }

  #enqueue(chunk: Uint8Array | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ chunk, offset: 0, resolve, reject })
      this.#host.activate(this)
    })
  }

  #finish(error: PeerjectError): void {
    this.#state = 'done'
    this.#host.deactivate(this)
    this.#host.finished(this)
    this.#settleFinished(error)
    for (const pending of this.#queue.drain()) pending.reject(error)
  }
}
