/**
 * An in-process pair of connected transports, for tests of the layers above. It behaves like a
 * data channel where it matters:
 * - delivery is asynchronous (a macrotask, or `latencyMs` later) and in order, never inside `send`;
 * - `send` copies the bytes; messages over `maxMessageSize` reject ERR_TOO_LARGE;
 * - messages sent before the other side calls `listen` are buffered;
 * - the sender's `bufferedAmount` counts bytes the other side has not yet taken, and `send`
 *   resolves only while it is at or under the high-water mark (so backpressure is testable: a
 *   side that never listens stalls its peer's sends);
 * - `close` on either side reaches both listeners: the closing side gets its own reason, the
 *   other side ERR_PEER_LEFT after the messages sent before the close.
 * With `log: true`, every message sent is recorded (a copy) in `pair.log`, for golden tests.
 */
import { PeerjectError, formatBytes } from '../errors.js'
import type { Transport, TransportListener, TransportState } from './transport.js'
import { DEFAULT_HIGH_WATER_MARK, SENT } from './transport.js'

/** Options of {@link createMemoryTransportPair}. */
export interface MemoryTransportOptions {
  /** Largest message `send` accepts. Default 256 KiB (a browser data channel's usual limit). */
  readonly maxMessageSize?: number
  /** `send` waits while the peer holds more than this many undelivered bytes. Default 1 MiB. */
  readonly highWaterMark?: number
  /** Delay before a message is delivered. Default 0 (next macrotask). */
  readonly latencyMs?: number
  /** Record every sent message in `pair.log`. Default false (large transfers would be kept). */
  readonly log?: boolean
  /**
   * What `copiesOnSend` declares (default true: `send` always copies what it is given). False
   * makes the wire allocate each frame, as over a transport that keeps what it is given.
   */
  readonly copiesOnSend?: boolean
}

/** One recorded message. */
export interface MemoryLogEntry {
  /** The side that sent it: the pair's first transport is `a`, the second `b`. */
  readonly from: 'a' | 'b'
  readonly bytes: Uint8Array
}

/** One end of a memory pair. */
export interface MemoryTransport extends Transport {
  /** `a` or `b`. */
  readonly side: 'a' | 'b'
  /** Bytes sent by this side that the other side has not taken yet. */
  readonly bufferedAmount: number
}

/** The two ends plus the sent-message log. */
export type MemoryTransportPair = [MemoryTransport, MemoryTransport] & {
  readonly log: MemoryLogEntry[]
}

const CLOSE = Symbol('close')

interface Shared {
  readonly maxMessageSize: number
  readonly highWaterMark: number
  readonly latencyMs: number
  readonly log: MemoryLogEntry[] | undefined
  readonly copiesOnSend: boolean
}

interface Inbound {
  readonly bytes: Uint8Array | typeof CLOSE
  readonly due: number
}

class MemoryEnd implements MemoryTransport {
  readonly side: 'a' | 'b'
  readonly maxMessageSize: number
  readonly copiesOnSend: boolean
  peer!: MemoryEnd
  readonly #shared: Shared
  #state: TransportState = 'open'
  #listener: TransportListener | undefined
  #closeReason: PeerjectError | undefined
  #closeReported = false
  /** Messages the peer sent to this side, not yet delivered, and their byte count. */
  readonly #inbox: Inbound[] = []
  #inboxBytes = 0
  #deliveryScheduled = false
  /** This side's sends waiting for the peer to drain. */
  #waiting: Array<{ resolve: () => void; reject: (error: PeerjectError) => void }> = []

  constructor(side: 'a' | 'b', shared: Shared) {
    this.side = side
    this.#shared = shared
    this.maxMessageSize = shared.maxMessageSize
    this.copiesOnSend = shared.copiesOnSend
  }

  get state(): TransportState {
    return this.#state
  }

  get bufferedAmount(): number {
    return this.peer.#inboxBytes
  }

  send(bytes: Uint8Array): Promise<void> {
    if (this.#state === 'closed') {
      return Promise.reject(
        new PeerjectError('ERR_CLOSED', 'the memory transport is closed', {
          cause: this.#closeReason,
        }),
      )
    }
    if (bytes.byteLength > this.maxMessageSize) {
      return Promise.reject(
        new PeerjectError(
          'ERR_TOO_LARGE',
          `transport message of ${formatBytes(bytes.byteLength)} exceeds maxMessageSize (${formatBytes(this.maxMessageSize)})`,
        ),
      )
    }
    const copy = bytes.slice()
    this.#shared.log?.push({ from: this.side, bytes: copy.slice() })
    this.peer.#arrive(copy)
    if (this.bufferedAmount <= this.#shared.highWaterMark) return SENT
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }

  listen(listener: TransportListener): void {
    if (this.#listener !== undefined) {
      throw new PeerjectError('ERR_INTERNAL', 'Transport.listen may be called once')
    }
    this.#listener = listener
    this.#scheduleDelivery(0)
    if (this.#state === 'closed') this.#reportClose()
  }

  close(reason?: PeerjectError): void {
    if (this.#state === 'closed') return
    this.#finish(reason)
    this.peer.#arrive(CLOSE)
  }

  #arrive(bytes: Uint8Array | typeof CLOSE): void {
    if (this.#state === 'closed') return // the channel is gone: nothing reaches this side
    this.#inbox.push({ bytes, due: Date.now() + this.#shared.latencyMs })
    if (bytes !== CLOSE) this.#inboxBytes += bytes.byteLength
    this.#scheduleDelivery(this.#shared.latencyMs)
  }

  #scheduleDelivery(delay: number): void {
    if (this.#deliveryScheduled || this.#listener === undefined || this.#inbox.length === 0) return
    this.#deliveryScheduled = true
    if (delay > 0) setTimeout(this.#deliver, delay)
    else if (typeof setImmediate === 'function') setImmediate(this.#deliver)
    else setTimeout(this.#deliver, 0)
  }

  readonly #deliver = (): void => {
    this.#deliveryScheduled = false
    const now = Date.now()
    let delivered = 0
    while (this.#state === 'open' && delivered < this.#inbox.length) {
      const item = this.#inbox[delivered]!
      if (item.due > now) break
      delivered++
      if (item.bytes === CLOSE) {
        this.#finish(new PeerjectError('ERR_PEER_LEFT', 'the other side closed the connection'))
        break
      }
      this.#inboxBytes -= item.bytes.byteLength
      try {
        this.#listener?.message(item.bytes)
      } catch (error) {
        // Listeners must not throw; keep the channel alive and surface it as uncaught.
        queueMicrotask(() => {
          throw error
        })
      }
    }
    this.#inbox.splice(0, delivered)
    this.peer.#drained()
    const next = this.#inbox[0]
    if (this.#state === 'open' && next !== undefined) {
      this.#scheduleDelivery(Math.max(0, next.due - Date.now()))
    }
  }

  /** The peer took messages from its inbox: release sends once it is under the mark. */
  #drained(): void {
    if (this.bufferedAmount > this.#shared.highWaterMark || this.#waiting.length === 0) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const waiter of waiting) waiter.resolve()
  }

  #finish(reason: PeerjectError | undefined): void {
    this.#state = 'closed'
    this.#closeReason = reason
    this.#inbox.length = 0
    this.#inboxBytes = 0
    this.peer.#drained()
    const waiting = this.#waiting
    this.#waiting = []
    const error = new PeerjectError('ERR_CLOSED', 'the memory transport closed', { cause: reason })
    for (const waiter of waiting) waiter.reject(error)
    this.#reportClose()
  }

  #reportClose(): void {
    if (this.#closeReported || this.#listener === undefined) return
    this.#closeReported = true
    const listener = this.#listener
    const reason = this.#closeReason
    queueMicrotask(() => listener.close(reason))
  }
}

/**
 * Two connected in-memory transports. `pair[0]` is side `a`, `pair[1]` side `b`; `pair.log`
 * holds the messages sent when `options.log` is true.
 */
export function createMemoryTransportPair(
  options: MemoryTransportOptions = {},
): MemoryTransportPair {
  const shared: Shared = {
    maxMessageSize: options.maxMessageSize ?? 256 * 1024,
    highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    latencyMs: options.latencyMs ?? 0,
    log: options.log === true ? [] : undefined,
    copiesOnSend: options.copiesOnSend ?? true,
  }
  const a = new MemoryEnd('a', shared)
  const b = new MemoryEnd('b', shared)
  a.peer = b
  b.peer = a
  const pair = [a, b] as [MemoryTransport, MemoryTransport]
  return Object.assign(pair, { log: shared.log ?? [] })
}
