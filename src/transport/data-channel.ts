/**
 * The shared half of every WebRTC adapter: turns one open RTCDataChannel (browser, node-datachannel,
 * @roamhq/wrtc, or the channel inside simple-peer / peerjs) into a {@link Transport}. Adapters feed it
 * incoming bytes (`receive`) and the close (`closed`); it owns sending and flow control.
 *
 * Flow control: `send` resolves at once while `bufferedAmount` is under the high-water mark, else
 * when the channel fires `bufferedamountlow`. Implementations without that event (@roamhq/wrtc) set
 * `pollMs`; then, and only then, `bufferedAmount` is polled. The high-water mark stays far below
 * the 16 MiB at which browsers close a channel.
 */
import { PeerjectError, formatBytes } from '../errors.js'
import type { Transport, TransportListener, TransportState } from './transport.js'
import { DEFAULT_HIGH_WATER_MARK, SENT } from './transport.js'

/** Longest wait for queued bytes to leave before a close for an error tears the channel down. */
const CLOSE_GRACE_MS = 250

/** The part of `RTCDataChannel` this module uses. */
export interface DataChannelLike {
  readonly bufferedAmount: number
  bufferedAmountLowThreshold: number
  send(data: Uint8Array): void
  addEventListener(type: 'bufferedamountlow', listener: () => void): void
  removeEventListener(type: 'bufferedamountlow', listener: () => void): void
}

/** Options for {@link ChannelTransport}. */
export interface ChannelTransportOptions {
  /** Largest message the channel accepts (both ends). */
  readonly maxMessageSize: number
  /** `send` waits while more than this many bytes are buffered. Default 1 MiB. */
  readonly highWaterMark?: number
  /** Poll `bufferedAmount` every `pollMs` instead of waiting for the event (implementations lacking it). */
  readonly pollMs?: number
  /** Closes the underlying connection; called once, on a local close. */
  readonly closeUnderlying: () => void
  /**
   * This side received the channel (the other side created it): hold what is sent until the
   * creator's first message arrives. Sent sooner, a message can reach a creator whose
   * implementation has not marked the channel open yet, and node-datachannel drops it: about 2% of
   * Node-dialed Chromium connections lost the page's HELLO so (docs/architecture.md, "Connection
   * attempts"). The creator always speaks first (its HELLO), so this costs one trip at most.
   */
  readonly speaksSecond?: boolean
}

/** A {@link Transport} over one RTCDataChannel. Adapters call `receive` and `closed`. */
export class ChannelTransport implements Transport {
  readonly maxMessageSize: number
  /** `RTCDataChannel.send` copies what it is given before it returns. */
  readonly copiesOnSend = true
  readonly #channel: DataChannelLike
  readonly #highWaterMark: number
  readonly #pollMs: number | undefined
  readonly #closeUnderlying: () => void
  #state: TransportState = 'open'
  #listener: TransportListener | undefined
  #early: Uint8Array[] = []
  #closeReason: PeerjectError | undefined
  #drain: { resolve: () => void; reject: (error: PeerjectError) => void } | undefined
  #pollTimer: ReturnType<typeof setInterval> | undefined
  /** Messages held until the creator's first message (see `speaksSecond`); undefined once it came. */
  #held: Uint8Array[] | undefined
  #heldSent:
    { promise: Promise<void>; resolve: () => void; reject: (e: PeerjectError) => void } | undefined

  constructor(channel: DataChannelLike, options: ChannelTransportOptions) {
    this.#channel = channel
    this.maxMessageSize = options.maxMessageSize
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
    this.#pollMs = options.pollMs
    this.#closeUnderlying = options.closeUnderlying
    channel.bufferedAmountLowThreshold = Math.floor(this.#highWaterMark / 2)
    if (this.#pollMs === undefined) channel.addEventListener('bufferedamountlow', this.#onLow)
    if (options.speaksSecond === true) this.#held = []
  }

  get state(): TransportState {
    return this.#state
  }

  send(bytes: Uint8Array): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(this.#closedError())
    if (bytes.byteLength > this.maxMessageSize) {
      return Promise.reject(
        new PeerjectError(
          'ERR_TOO_LARGE',
          `transport message of ${formatBytes(bytes.byteLength)} exceeds the channel's maxMessageSize (${formatBytes(this.maxMessageSize)})`,
        ),
      )
    }
    if (this.#held !== undefined) return this.#hold(bytes)
    try {
      this.#channel.send(bytes)
    } catch (error) {
      return Promise.reject(
        new PeerjectError('ERR_CLOSED', 'the data channel refused the message; it is closing', {
          cause: error,
        }),
      )
    }
    return this.#channel.bufferedAmount > this.#highWaterMark ? this.#waitForDrain() : SENT
  }

  listen(listener: TransportListener): void {
    if (this.#listener !== undefined) throw new Error('Transport.listen may be called once')
    this.#listener = listener
    const early = this.#early
    this.#early = []
    for (const bytes of early) listener.message(bytes)
    if (this.#state === 'closed') listener.close(this.#closeReason)
  }

  close(reason?: PeerjectError): void {
    if (this.#state === 'closed') return
    this.#finish(reason)
    if (reason === undefined) {
      this.#teardown()
      return
    }
    // Closing for an error: the wire has just queued an ERROR frame telling the peer why, and
    // tearing the connection down now could drop it (an empty send buffer only means the bytes
    // went to the SCTP stack). The peer closes its side when it reads the frame (`closed` below
    // then tears down); a peer that is gone or not reading gets CLOSE_GRACE_MS at most. The
    // transport is already closed for its user.
    this.#grace = setTimeout(this.#teardown, CLOSE_GRACE_MS)
  }

  #tornDown = false
  #grace: ReturnType<typeof setTimeout> | undefined
  readonly #teardown = (): void => {
    if (this.#grace !== undefined) clearTimeout(this.#grace)
    this.#grace = undefined
    if (this.#tornDown) return
    this.#tornDown = true
    try {
      this.#closeUnderlying()
    } catch {
      // The channel is going away either way; a failing close of the implementation changes nothing.
    }
  }

  /** Adapter → transport: one incoming message. */
  receive(bytes: Uint8Array): void {
    if (this.#state === 'closed') return
    if (this.#held !== undefined) this.#release()
    if (this.#listener === undefined) this.#early.push(bytes)
    else this.#listener.message(bytes)
  }

  /** Adapter → transport: the channel closed from the other side or failed. */
  closed(reason: PeerjectError): void {
    if (this.#state === 'closed') {
      // The peer closed after reading our ERROR frame: no need to wait out the grace period.
      if (this.#grace !== undefined) this.#teardown()
      return
    }
    this.#finish(reason)
  }

  /** Keeps a copy (the caller may reuse its buffer once `send` returns) until the creator spoke. */
  #hold(bytes: Uint8Array): Promise<void> {
    ;(this.#held as Uint8Array[]).push(bytes.slice())
    if (this.#heldSent === undefined) {
      let resolve!: () => void
      let reject!: (error: PeerjectError) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      // It may have no listener (the wire awaits sends one by one, or not at all).
      promise.catch(() => undefined)
      this.#heldSent = { promise, resolve, reject }
    }
    return this.#heldSent.promise
  }

  /** The creator spoke: what was held goes out, in order. */
  #release(): void {
    const held = this.#held ?? []
    const sent = this.#heldSent
    this.#held = undefined
    this.#heldSent = undefined
    try {
      for (const bytes of held) this.#channel.send(bytes)
    } catch (error) {
      sent?.reject(
        new PeerjectError('ERR_CLOSED', 'the data channel refused the message; it is closing', {
          cause: error,
        }),
      )
      return
    }
    sent?.resolve()
  }

  #finish(reason: PeerjectError | undefined): void {
    this.#state = 'closed'
    this.#closeReason = reason
    this.#held = undefined
    const held = this.#heldSent
    this.#heldSent = undefined
    held?.reject(this.#closedError())
    if (this.#pollMs === undefined)
      this.#channel.removeEventListener('bufferedamountlow', this.#onLow)
    this.#stopPolling()
    const drain = this.#drain
    this.#drain = undefined
    drain?.reject(this.#closedError())
    this.#listener?.close(reason)
  }

  #closedError(): PeerjectError {
    return new PeerjectError('ERR_CLOSED', 'the connection to this peer is closed', {
      cause: this.#closeReason,
    })
  }

  #waitForDrain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#drain = { resolve, reject }
      if (this.#pollMs !== undefined) {
        this.#pollTimer = setInterval(this.#onLow, this.#pollMs)
      }
    })
  }

  readonly #onLow = (): void => {
    if (this.#drain === undefined) return
    if (this.#channel.bufferedAmount > this.#channel.bufferedAmountLowThreshold) return
    const drain = this.#drain
    this.#drain = undefined
    this.#stopPolling()
    drain.resolve()
  }

  #stopPolling(): void {
    if (this.#pollTimer !== undefined) clearInterval(this.#pollTimer)
    this.#pollTimer = undefined
  }
}

/** A plain `Uint8Array` view of whatever binary the implementation delivered (never a Buffer). */
export function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}
