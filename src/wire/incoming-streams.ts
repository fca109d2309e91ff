/**
 * The receiving half of byte streams. A stream is registered lazily, by its first frame or by
 * `accept`, whichever comes first. Until it is accepted its data is buffered, which the sender's
 * credit bounds to `streamWindowBytes`; a stream not accepted within `streamAcceptTimeoutMs` is
 * refused (STREAM_CANCEL, ERR_TIMEOUT), and a stream beyond `maxStreams` is refused at once
 * (ERR_QUOTA). Accepted streams are `ReadableStream`s whose queue is the credit window: credit is
 * granted as the reader consumes bytes, so a slow reader slows the sender and memory stays bounded.
 *
 * Small payloads (under {@link COALESCE_BYTES}) that would wait in a queue are copied into a
 * shared buffer instead of being queued one by one: credit counts payload bytes, and a 1-byte
 * chunk held as its own view costs a couple of hundred bytes, so a sender of tiny chunks could
 * otherwise make a window hold hundreds of times its size.
 *
 * Every entry leaves the table when the sender's STREAM_END or STREAM_ABORT for it arrives (the
 * sender answers every STREAM_CANCEL with STREAM_ABORT unless it already ended), or, for a pending
 * stream that has ended, when it is accepted or times out.
 */
import { PeerjectError } from '../errors.js'
import type { Reason } from './frame.js'
import { FRAME_KIND, encodeCredit, encodeStreamReason } from './frame.js'
import type { WireLimits } from './limits.js'

/** Refused or aborted stream ids remembered at least (see `#forget`). */
const MIN_REMEMBERED_REFUSALS = 1024

/** Payloads smaller than this are gathered into buffers of this size when they would wait. */
const COALESCE_BYTES = 16 * 1024

interface Entry {
  readonly id: number
  state: 'pending' | 'accepted' | 'cancelled'
  /** Data received before `accept` (views into received frames). */
  chunks: Uint8Array[]
  /** Small payloads gathered since the last chunk was queued: `tail[0..tailUsed)`. */
  tail: Uint8Array | undefined
  tailUsed: number
  /** STREAM_END arrived (pending entries only; accepted ones close and leave at once). */
  ended: boolean
  /** Data bytes received, and the most the sender may send (window + credit granted). */
  received: number
  allowed: number
  controller: ReadableStreamDefaultController<Uint8Array> | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  /** Why the stream was refused or cancelled (state `cancelled`). */
  reason: PeerjectError | undefined
}

/** The table of incoming streams of one session. */
export class IncomingStreams {
  readonly #limits: WireLimits
  readonly #control: (frame: Uint8Array) => void
  readonly #entries = new Map<number, Entry>()
  /** Recently refused or aborted ids, so a late `accept` errors instead of waiting forever. */
  readonly #gone = new Map<number, PeerjectError>()
  /** Recently ended ids (delivered in full): a frame for one is a violation, not a new stream. */
  readonly #ended = new Set<number>()

  /** `control` queues a control frame to the peer. */
  constructor(limits: WireLimits, control: (frame: Uint8Array) => void) {
    this.#limits = limits
    this.#control = control
  }

  /** Streams held (pending, accepted and open, or cancelled awaiting the sender's end). */
  get size(): number {
    return this.#entries.size
  }

  /** STREAM_DATA. Throws ERR_QUOTA when the sender exceeds its credit, ERR_BAD_MESSAGE after END. */
  data(id: number, payload: Uint8Array): void {
    if (this.#ended.has(id)) throw bad(`data on stream ${id} after its end`)
    const entry = this.#entries.get(id) ?? this.#lazy(id)
    if (entry === undefined || entry.state === 'cancelled') return
    if (entry.ended) throw bad(`data on stream ${id} after its end`)
    entry.received += payload.byteLength
    if (entry.received > entry.allowed) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `the peer sent ${entry.received - entry.allowed} bytes on stream ${id} beyond the credit it was given`,
      )
    }
    if (payload.byteLength >= COALESCE_BYTES) {
      this.#flushTail(entry)
      this.#queue(entry, payload)
    } else if (
      entry.state === 'accepted' &&
      entry.tail === undefined &&
      entry.controller?.desiredSize === this.#limits.streamWindowBytes
    ) {
      // Nothing waits to be read: the reader (if any) takes this one now.
      this.#queue(entry, payload)
    } else {
      this.#gather(entry, payload)
    }
  }

  /** Queues `chunk` for the reader, or holds it until `accept`. */
  #queue(entry: Entry, chunk: Uint8Array): void {
    if (entry.state === 'pending') entry.chunks.push(chunk)
    else entry.controller?.enqueue(chunk)
  }

  /** Copies a small payload into the entry's tail buffer, queueing the tail once it is full. */
  #gather(entry: Entry, payload: Uint8Array): void {
    let offset = 0
    while (offset < payload.byteLength) {
      entry.tail ??= new Uint8Array(COALESCE_BYTES)
      const n = Math.min(payload.byteLength - offset, COALESCE_BYTES - entry.tailUsed)
      entry.tail.set(payload.subarray(offset, offset + n), entry.tailUsed)
      entry.tailUsed += n
      offset += n
      if (entry.tailUsed === COALESCE_BYTES) this.#flushTail(entry)
    }
  }

  /** Queues what the tail buffer gathered. */
  #flushTail(entry: Entry): void {
    if (entry.tail === undefined) return
    const chunk = entry.tail.subarray(0, entry.tailUsed)
    entry.tail = undefined
    entry.tailUsed = 0
    this.#queue(entry, chunk)
  }

  /** STREAM_END. */
  end(id: number): void {
    if (this.#ended.has(id)) throw bad(`stream ${id} ended twice`)
    const entry = this.#entries.get(id) ?? this.#lazy(id)
    if (entry === undefined) return
    if (entry.state === 'cancelled') return this.#remove(entry, entry.reason)
    if (entry.ended) throw bad(`stream ${id} ended twice`)
    this.#flushTail(entry)
    if (entry.state === 'pending') {
      entry.ended = true
      return
    }
    entry.controller?.close()
    this.#remove(entry, undefined)
    this.#remember(this.#ended, id)
  }

  /** STREAM_ABORT from the sender. */
  abort(id: number, reason: PeerjectError): void {
    if (this.#ended.has(id)) return // delivered in full already: nothing left to abort
    const entry = this.#entries.get(id)
    if (entry === undefined) return this.#forget(id, reason)
    if (entry.state === 'accepted') entry.controller?.error(reason)
    this.#remove(entry, entry.reason ?? reason)
  }

  /** The receiving side's `acceptStream(id)`. */
  accept(id: number): ReadableStream<Uint8Array> {
    let entry = this.#entries.get(id)
    if (entry === undefined) {
      if (this.#ended.has(id)) {
        return errored(new PeerjectError('ERR_CLOSED', `stream ${id} was already accepted`))
      }
      const gone = this.#gone.get(id)
      if (gone !== undefined) return errored(gone)
      entry = this.#register(id)
      if (entry === undefined) return errored(this.#gone.get(id) ?? quota(this.#limits))
    }
    if (entry.state !== 'pending') {
      return errored(
        entry.reason ?? new PeerjectError('ERR_CLOSED', `stream ${id} was already accepted`),
      )
    }
    return this.#open(entry)
  }

  /** Errors every accepted stream, clears timers, forgets everything (session closed). */
  closeAll(reason: PeerjectError): void {
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer)
      if (entry.state === 'accepted') {
        try {
          entry.controller?.error(reason)
        } catch {
          // Already errored or closed by its reader: nothing left to tell it.
        }
      }
    }
    this.#entries.clear()
    this.#gone.clear()
    this.#ended.clear()
  }

  /** Registers a stream on its first frame, unless it was refused or aborted (late frames). */
  #lazy(id: number): Entry | undefined {
    return this.#gone.has(id) ? undefined : this.#register(id)
  }

  #register(id: number): Entry | undefined {
    if (this.#entries.size >= this.#limits.maxStreams) {
      const error = quota(this.#limits)
      this.#forget(id, error)
      this.#sendCancel(id, error)
      return undefined
    }
    const entry: Entry = {
      id,
      state: 'pending',
      chunks: [],
      tail: undefined,
      tailUsed: 0,
      ended: false,
      received: 0,
      allowed: this.#limits.streamWindowBytes,
      controller: undefined,
      timer: undefined,
      reason: undefined,
    }
    entry.timer = setTimeout(() => this.#acceptTimeout(entry), this.#limits.streamAcceptTimeoutMs)
    this.#entries.set(id, entry)
    this.#gone.delete(id)
    return entry
  }

  #open(entry: Entry): ReadableStream<Uint8Array> {
    clearTimeout(entry.timer)
    entry.timer = undefined
    entry.state = 'accepted'
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          entry.controller = controller
        },
        pull: () => {
          // The reader has room: what was gathered is read next, then credit goes out.
          this.#flushTail(entry)
          this.#grant(entry)
        },
        cancel: (reason: unknown) => this.#cancelByReader(entry, reason),
      },
      { highWaterMark: this.#limits.streamWindowBytes, size: (chunk) => chunk.byteLength },
    )
    const controller = entry.controller!
    for (const chunk of entry.chunks) controller.enqueue(chunk)
    entry.chunks = []
    this.#flushTail(entry) // gathered after those chunks
    if (entry.ended) {
      controller.close()
      this.#remove(entry, undefined)
      this.#remember(this.#ended, entry.id)
    }
    return stream
  }

  /** Grants the sender the bytes the reader has consumed since the last grant. */
  #grant(entry: Entry): void {
    if (this.#entries.get(entry.id) !== entry || entry.state !== 'accepted') return
    const free = (entry.controller?.desiredSize ?? 0) - (entry.allowed - entry.received)
    // Grant in steps of a quarter window (fewer frames); the full window once the queue is empty.
    if (free < Math.max(1, Math.floor(this.#limits.streamWindowBytes / 4))) return
    entry.allowed += free
    this.#control(encodeCredit(entry.id, free))
  }

  /** The reader cancelled: the sender is told why (a PeerjectError reason keeps its code). */
  #cancelByReader(entry: Entry, reason: unknown): void {
    if (this.#entries.get(entry.id) !== entry || entry.state !== 'accepted') return
    entry.state = 'cancelled'
    entry.controller = undefined
    entry.reason =
      reason instanceof PeerjectError
        ? reason
        : new PeerjectError('ERR_ABORTED', `the reader cancelled stream ${entry.id}`)
    this.#sendCancel(entry.id, entry.reason)
  }

  #acceptTimeout(entry: Entry): void {
    entry.timer = undefined
    if (this.#entries.get(entry.id) !== entry || entry.state !== 'pending') return
    const error = new PeerjectError(
      'ERR_TIMEOUT',
      `stream ${entry.id} was not accepted within ${this.#limits.streamAcceptTimeoutMs} ms; it was refused`,
    )
    entry.chunks = []
    entry.tail = undefined
    entry.tailUsed = 0
    if (entry.ended) return this.#remove(entry, error)
    entry.state = 'cancelled'
    entry.reason = error
    this.#sendCancel(entry.id, error)
  }

  #sendCancel(id: number, reason: PeerjectError): void {
    const wire: Reason = { code: reason.code, message: reason.message }
    this.#control(encodeStreamReason(FRAME_KIND.STREAM_CANCEL, id, wire))
  }

  #remove(entry: Entry, reason: PeerjectError | undefined): void {
    clearTimeout(entry.timer)
    this.#entries.delete(entry.id)
    if (reason !== undefined) this.#forget(entry.id, reason)
  }

  #forget(id: number, reason: PeerjectError): void {
    this.#gone.delete(id)
    this.#gone.set(id, reason)
    // Bounded: only the most recent refusals are remembered, but enough of them that frames
    // still in flight for a refused stream (the sender learns of it a round trip later) are not
    // taken for a new stream that would hold a slot until its accept timeout.
    this.#trim(this.#gone)
  }

  /** Adds `id` to a bounded set of recent ids. */
  #remember(ids: Set<number>, id: number): void {
    ids.delete(id)
    ids.add(id)
    this.#trim(ids)
  }

  #trim(ids: Map<number, unknown> | Set<number>): void {
    if (ids.size > Math.max(4 * this.#limits.maxStreams, MIN_REMEMBERED_REFUSALS)) {
      const oldest = ids.keys().next()
      if (oldest.done !== true) ids.delete(oldest.value)
    }
  }
}

function errored(reason: PeerjectError): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.error(reason)
    },
  })
}

function quota(limits: WireLimits): PeerjectError {
  return new PeerjectError(
    'ERR_QUOTA',
    `the receiver holds maxStreams (${limits.maxStreams}) streams; accept or finish some first, or raise maxStreams`,
  )
}

function bad(message: string): PeerjectError {
  return new PeerjectError('ERR_BAD_MESSAGE', `malformed stream from peer: ${message}`)
}
