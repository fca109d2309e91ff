/**
 * A wire session: frames over one {@link Transport} (docs/protocol.md). It moves opaque byte
 * messages tagged with a channel number, and byte streams; it never looks inside a message.
 *
 * Contracts:
 * - Sending: one pump hands frames to the transport, awaiting each `send` (which waits on the
 *   channel's `bufferedamountlow`); at most one `send` is awaited at a time and nothing polls.
 * - Receiving: every frame is parsed and checked against this side's limits. A violation never
 *   throws out of the transport callback: it is emitted as `error`, reported to the peer with an
 *   ERROR frame (best effort), and the session closes with it as the reason.
 * - Closing: `close` fires once; every pending send, stream write and accepted stream settles
 *   with the reason (ERR_CLOSED for a clean local close, ERR_PEER_LEFT when the peer went away).
 */
import { Emitter } from '../emitter.js'
import { PeerjectError, formatBytes, isErrorCode } from '../errors.js'
import type { Transport } from '../transport/transport.js'
import { SENT } from '../transport/transport.js'
import type { HelloFields, Reason } from './frame.js'
import { FRAME_KIND, encodeError, encodeHello } from './frame.js'
import { parseFrame } from './frame-parser.js'
import { checkPeerHello, localHello, negotiateChunkBytes } from './hello.js'
import { IncomingStreams } from './incoming-streams.js'
import type { WireLimits } from './limits.js'
import { INITIAL_CHUNK_BYTES, MAX_U32, MIN_CHUNK_BYTES, resolveWireLimits } from './limits.js'
import type { MessageBytes, SendOptions } from './outgoing-message.js'
import { OutgoingMessage } from './outgoing-message.js'
import type { OutgoingStream, StreamHost } from './outgoing-stream.js'
import { OutgoingStreamSource } from './outgoing-stream.js'
import { Reassembler } from './reassembly.js'
import { Scheduler } from './scheduler.js'

/** Events of a {@link WireSession}. */
export type WireEvents = {
  /** One whole message from the peer. `bytes` may be a view into a larger received buffer. */
  message: [channel: number, bytes: Uint8Array]
  /** The session closed; `reason` is undefined for a clean local close. Fires once. */
  close: [reason: PeerjectError | undefined]
  /** The peer broke the protocol or a limit; the session is closing with this error. */
  error: [error: PeerjectError]
}

/** Options of a {@link WireSession}. */
export interface WireSessionOptions {
  /** Overrides of {@link DEFAULT_WIRE_LIMITS}. */
  readonly limits?: Partial<WireLimits>
}

/** Control frames a peer may make us queue before we treat it as not reading (ERR_QUOTA). */
const MAX_QUEUED_CONTROL_FRAMES = 4096

/** Frames over a transport: chunking, coalescing, interleaving, reassembly, streams. */
export class WireSession extends Emitter<WireEvents> {
  /** Resolves once both HELLOs are exchanged; rejects (and the session closes) on failure. */
  readonly ready: Promise<void>
  /** This side's limits (defaults filled in). */
  readonly limits: WireLimits
  readonly #transport: Transport
  readonly #local: HelloFields
  readonly #scheduler: Scheduler
  readonly #reassembler: Reassembler
  readonly #incoming: IncomingStreams
  readonly #outgoing = new Map<number, OutgoingStreamSource>()
  #peer: HelloFields | undefined
  #chunkBytes = INITIAL_CHUNK_BYTES
  #preReady: OutgoingMessage[] = []
  #closed = false
  #closeReason: PeerjectError | undefined
  #resolveReady!: () => void
  #rejectReady!: (error: PeerjectError) => void
  #helloTimer: ReturnType<typeof setTimeout> | undefined
  #pumping = false
  /** An ERROR frame telling the peer why this session closes was handed to the transport. */
  #toldPeer = false
  #pumpQueued = false
  #nextStreamId = 1

  /** Starts the session: listens on `transport` and sends this side's HELLO. */
  constructor(transport: Transport, options: WireSessionOptions = {}) {
    super()
    this.limits = resolveWireLimits(options.limits)
    if (transport.maxMessageSize < MIN_CHUNK_BYTES) {
      throw new RangeError(`the transport's maxMessageSize is below ${MIN_CHUNK_BYTES} bytes`)
    }
    this.#transport = transport
    this.#local = localHello(this.limits, transport.maxMessageSize)
    this.#scheduler = new Scheduler(this.#kick, this.#pumpNow)
    this.#reassembler = new Reassembler(this.limits)
    this.#incoming = new IncomingStreams(this.limits, this.#control)
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    // `ready` may have no listener; its failure is also the close reason.
    this.ready.catch(() => undefined)
    this.#scheduler.control(encodeHello(this.#local))
    this.#helloTimer = setTimeout(this.#onHelloTimeout, this.limits.helloTimeoutMs)
    transport.listen({ message: this.#onMessage, close: this.#onTransportClose })
  }

  /** Frame size in use: 16 KiB until the HELLOs are exchanged, then the negotiated size. */
  get chunkBytes(): number {
    return this.#chunkBytes
  }

  /** The largest message the peer accepts (its HELLO), or undefined before the HELLOs. */
  get peerMaxMessageBytes(): number | undefined {
    return this.#peer?.maxMessageBytes
  }

  /** True once the session has closed. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Sends one message on `channel` (0–255). Resolves when its last byte is handed to the
   * transport. Rejects ERR_TOO_LARGE (over the peer's maxMessageBytes; nothing is sent),
   * ERR_ABORTED (the receiver drops what it got), or the close reason if the session ends first.
   * `bytes` (one array, or parts whose concatenation is the message) must not change until the
   * promise settles; once it has, the wire reads them no more (frames are copies of them).
   */
  sendMessage(channel: number, bytes: MessageBytes, options: SendOptions = {}): Promise<void> {
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
      return Promise.reject(new RangeError(`channel must be an integer 0–255, got ${channel}`))
    }
    if (this.#closed) return Promise.reject(this.#closedError())
    if (options.signal?.aborted === true) {
      return Promise.reject(new PeerjectError('ERR_ABORTED', 'the send was aborted'))
    }
    const message = new OutgoingMessage(channel, bytes, options, this.#onAbort)
    if (message.total > MAX_U32) {
      message.reject(
        new PeerjectError(
          'ERR_TOO_LARGE',
          `message of ${formatBytes(message.total)} exceeds the wire's 4 GiB limit; send it as a byte stream`,
        ),
      )
      return message.promise
    }
    if (this.#peer === undefined) this.#preReady.push(message)
    else this.#scheduler.message(message)
    return message.promise
  }

  /**
   * Opens an outgoing byte stream. Send its `id` inside a message on `channel`; the receiver
   * passes it to {@link acceptStream}. Writes wait for the reader's credit. Throws ERR_QUOTA when
   * as many streams as the peer's `maxStreams` are already open.
   */
  openStream(channel: number): OutgoingStream {
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
      throw new RangeError(`channel must be an integer 0–255, got ${channel}`)
    }
    const maxStreams = this.#peer?.maxStreams
    if (maxStreams !== undefined && this.#outgoing.size >= maxStreams) {
      // The peer would refuse it (its HELLO's maxStreams): fail this operation, not the stream
      // later, which a small stream could outrun, its data lost without the sender knowing.
      throw new PeerjectError(
        'ERR_QUOTA',
        `the peer accepts at most ${maxStreams} byte streams at once and ${this.#outgoing.size} are open; wait for one to finish, or have the peer raise maxStreams`,
      )
    }
    const id = this.#nextStreamId
    this.#nextStreamId = id === MAX_U32 ? 1 : id + 1
    const stream = new OutgoingStreamSource(id, channel, this.#streamHost)
    if (this.#closed) stream.fail(this.#closedError())
    else this.#outgoing.set(id, stream)
    return stream
  }

  /**
   * The receiving side of the peer's stream `id`. Data sent before this call (up to the window)
   * is buffered; afterwards credit follows the reader. `cancel()` on it aborts the sender's stream.
   * A stream refused earlier (not accepted in time, over `maxStreams`) or aborted errors at once.
   */
  acceptStream(id: number): ReadableStream<Uint8Array> {
    if (this.#closed) {
      const error = this.#closedError()
      return new ReadableStream({ start: (controller) => controller.error(error) })
    }
    if (!Number.isInteger(id) || id < 1 || id > MAX_U32) {
      const error = new PeerjectError('ERR_BAD_MESSAGE', `${String(id)} is not a stream id`)
      return new ReadableStream({ start: (controller) => controller.error(error) })
    }
    return this.#incoming.accept(id)
  }

  /**
   * Closes the session and its transport. Every pending send rejects with `reason` (ERR_CLOSED
   * when none). With a reason, the peer is told why in an ERROR frame (best effort). Idempotent.
   */
  close(reason?: PeerjectError): void {
    if (this.#closed) return
    if (reason !== undefined) this.#sendError(reason)
    this.#shutdown(reason)
  }

  /**
   * DATA and STREAM_DATA bytes handed to the transport that the peer has not acknowledged yet
   * (bounded by the bulk window, docs/architecture.md "Latency during bulk").
   */
  get bulkInFlight(): number {
    return this.#scheduler.inFlight
  }

  /** Current load: messages being reassembled, frames/messages queued, streams open. */
  stats(): { reassembling: number; queuedFrames: number; openStreams: number } {
    return {
      reassembling: this.#reassembler.count,
      queuedFrames: this.#scheduler.queued,
      openStreams: this.#incoming.size + this.#outgoing.size,
    }
  }

  // ─── receiving ──────────────────────────────────────────────────────────────────────────────

  readonly #onMessage = (bytes: Uint8Array): void => {
    if (this.#closed) return
    try {
      this.#receive(bytes)
    } catch (error) {
      this.#violation(error)
    }
  }

  #receive(bytes: Uint8Array): void {
    if (bytes.byteLength > this.#local.maxChunkBytes) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `the peer sent a frame of ${formatBytes(bytes.byteLength)}, over the ${formatBytes(this.#local.maxChunkBytes)} this side advertised`,
      )
    }
    const frame = parseFrame(bytes)
    if (this.#peer === undefined) {
      if (frame.kind !== FRAME_KIND.HELLO) {
        throw new PeerjectError('ERR_BAD_MESSAGE', 'the peer sent data before its HELLO')
      }
      this.#onHello(frame)
      return
    }
    switch (frame.kind) {
      case FRAME_KIND.DATA: {
        const { channel, messageId, offset, total, payload, ackRequested } = frame
        const message = this.#reassembler.add(channel, messageId, offset, total, payload)
        this.#scheduler.received(bytes.byteLength, ackRequested || message !== undefined)
        if (message !== undefined) this.emit('message', channel, message)
        break
      }
      case FRAME_KIND.BATCH:
        // The same bound as for chunked messages (a frame can exceed a small maxMessageBytes).
        for (const entry of frame.entries) this.#reassembler.checkTotal(entry.bytes.byteLength)
        for (const entry of frame.entries) {
          if (this.#closed) return
          this.emit('message', entry.channel, entry.bytes)
        }
        break
      case FRAME_KIND.CANCEL:
        this.#reassembler.cancel(frame.messageId)
        this.#scheduler.received(0, true)
        break
      case FRAME_KIND.STREAM_DATA:
        this.#incoming.data(frame.streamId, frame.payload)
        this.#scheduler.received(bytes.byteLength, frame.ackRequested)
        break
      case FRAME_KIND.ACK:
        this.#scheduler.acked(frame.bytes)
        break
      case FRAME_KIND.STREAM_END:
        this.#incoming.end(frame.streamId)
        this.#scheduler.received(0, true)
        break
      case FRAME_KIND.STREAM_ABORT:
        this.#incoming.abort(frame.streamId, remoteError(frame, `stream ${frame.streamId} failed`))
        this.#scheduler.received(0, true)
        break
      case FRAME_KIND.STREAM_CREDIT:
        this.#outgoing.get(frame.streamId)?.addCredit(frame.credit)
        break
      case FRAME_KIND.STREAM_CANCEL:
        this.#outgoing
          .get(frame.streamId)
          ?.cancelled(remoteError(frame, `the reader refused stream ${frame.streamId}`))
        break
      case FRAME_KIND.ERROR: {
        const reason = remoteError(frame, 'the peer closed the session')
        // ERR_CLOSED is the peer closing its own side on purpose (it left the room): from here,
        // the peer left.
        this.#shutdown(
          reason.code === 'ERR_CLOSED'
            ? new PeerjectError('ERR_PEER_LEFT', 'the peer closed the session', { cause: reason })
            : reason,
        )
        return
      }
      case FRAME_KIND.HELLO:
        throw new PeerjectError('ERR_BAD_MESSAGE', 'the peer sent a second HELLO')
    }
    if (this.#scheduler.controlLength > MAX_QUEUED_CONTROL_FRAMES) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `more than ${MAX_QUEUED_CONTROL_FRAMES} control frames are queued for the peer; it is not reading`,
      )
    }
  }

  #onHello(peer: HelloFields): void {
    checkPeerHello(peer)
    this.#peer = peer
    this.#chunkBytes = negotiateChunkBytes(this.#local, peer)
    clearTimeout(this.#helloTimer)
    this.#helloTimer = undefined
    this.#scheduler.open(peer, this.#chunkBytes, this.#transport.copiesOnSend === true)
    const early = this.#preReady
    this.#preReady = []
    for (const message of early) this.#scheduler.message(message)
    this.#resolveReady()
  }

  readonly #onTransportClose = (reason: PeerjectError | undefined): void => {
    this.#shutdown(reason)
  }

  readonly #onHelloTimeout = (): void => {
    this.#helloTimer = undefined
    const error = new PeerjectError(
      'ERR_TIMEOUT',
      `no HELLO from the peer within ${this.limits.helloTimeoutMs} ms; is it running peerject?`,
    )
    this.#sendError(error)
    this.#shutdown(error)
  }

  /** The peer broke the protocol (or a bug surfaced while handling its frame). */
  #violation(thrown: unknown): void {
    if (this.#closed) return
    const error =
      thrown instanceof PeerjectError
        ? thrown
        : new PeerjectError('ERR_INTERNAL', 'the wire failed while handling a frame', {
            cause: thrown,
          })
    this.emit('error', error)
    this.#sendError(error)
    this.#shutdown(error)
  }

  // ─── sending ────────────────────────────────────────────────────────────────────────────────

  readonly #kick = (): void => {
    if (this.#pumping || this.#pumpQueued || this.#closed) return
    this.#pumpQueued = true
    // Deferred one microtask so messages sent in the same tick coalesce into one BATCH.
    queueMicrotask(this.#pump)
  }

  /**
   * Sends one frame at once, in the caller's turn: a full BATCH of small messages is waiting, and
   * waiting longer could not make it larger. A loop of many sends thus hands frames to the
   * channel (whose own thread transmits them) while it runs, instead of queuing everything for
   * the pump after it ends. What is left goes with the pump already kicked.
   */
  readonly #pumpNow = (): void => {
    if (!this.#pumping && !this.#closed) void this.#pump(1)
  }

  /** Hands frames to the transport until none is left (or `limit` were sent). */
  readonly #pump = async (limit = Number.POSITIVE_INFINITY): Promise<void> => {
    if (limit === Number.POSITIVE_INFINITY) this.#pumpQueued = false
    if (this.#pumping) return
    this.#pumping = true
    try {
      for (let frames = 0; frames < limit && !this.#closed; frames++) {
        const frame = this.#scheduler.next()
        if (frame === undefined) break
        const sent = this.#transport.send(frame)
        this.#scheduler.handed()
        // The channel can take more at once: go on in this turn (see `#pumpNow`).
        if (sent !== SENT) await sent
      }
    } catch (error) {
      // A local close shuts the session down before the transport, so a send that fails while
      // the session is open means the channel went away underneath it: the peer left or the
      // connection broke (ERR_PEER_LEFT, what pending sends and the room's `leave` report).
      this.#shutdown(
        error instanceof PeerjectError && error.code !== 'ERR_CLOSED'
          ? error
          : new PeerjectError('ERR_PEER_LEFT', 'the connection to the peer broke', {
              cause: error,
            }),
      )
    } finally {
      this.#pumping = false
      // A pump that stopped at its limit leaves the rest to a full one, which may have found this
      // one running (suspended on a full channel) and returned.
      if (limit !== Number.POSITIVE_INFINITY) this.#kick()
    }
  }

  readonly #control = (frame: Uint8Array): void => {
    if (!this.#closed) this.#scheduler.control(frame)
  }

  readonly #onAbort = (message: OutgoingMessage): void => {
    this.#scheduler.abort(message)
  }

  readonly #streamHost: StreamHost = {
    initialCredit: () => this.#peer?.streamWindowBytes ?? 0,
    activate: (source) => this.#scheduler.activate(source),
    deactivate: (source) => this.#scheduler.deactivate(source),
    control: (frame) => this.#control(frame),
    finished: (stream) => {
      if (this.#outgoing.get(stream.id) === stream) this.#outgoing.delete(stream.id)
    },
  }

  /** Best effort, bypassing the queue: the session is about to close. */
  #sendError(error: PeerjectError): void {
    if (this.#transport.state !== 'open') return
    this.#toldPeer = true
    const reason: Reason = { code: error.code, message: error.message }
    try {
      this.#transport.send(encodeError(reason)).catch(() => undefined)
    } catch {
      // The transport is failing too; the close that follows reports the reason locally.
    }
  }

  // ─── closing ────────────────────────────────────────────────────────────────────────────────

  #closedError(): PeerjectError {
    const reason = this.#closeReason
    if (reason?.code === 'ERR_PEER_LEFT') return reason
    return new PeerjectError('ERR_CLOSED', 'the wire session is closed', { cause: reason })
  }

  #shutdown(reason: PeerjectError | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeReason = reason
    clearTimeout(this.#helloTimer)
    this.#helloTimer = undefined
    try {
      // With a reason, the transport lets the ERROR frame just queued reach the peer first.
      this.#transport.close(this.#toldPeer ? reason : undefined)
    } catch {
      // A transport that throws on close is closed as far as this session is concerned.
    }
    const failure = reason ?? this.#closedError()
    this.#rejectReady(failure)
    for (const message of this.#preReady) message.reject(failure)
    this.#preReady = []
    this.#scheduler.failAll(failure)
    this.#reassembler.clear()
    this.#incoming.closeAll(failure)
    for (const stream of [...this.#outgoing.values()]) stream.fail(failure)
    this.#outgoing.clear()
    this.emit('close', reason)
  }
}

/** A PeerjectError for a reason the peer sent; unknown codes become ERR_PEER_LEFT. */
function remoteError(reason: Reason, context: string): PeerjectError {
  const code = isErrorCode(reason.code) ? reason.code : 'ERR_PEER_LEFT'
  const message = reason.message.length > 300 ? `${reason.message.slice(0, 300)}…` : reason.message
  return new PeerjectError(code, `${context}: ${reason.code}: ${message}`)
}
