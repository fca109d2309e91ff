/**
 * Decides which frame goes out next. Messages are delivered in order per channel; channels (and
 * streams) interleave. In priority order:
 * 1. control frames (HELLO, CANCEL, STREAM_CREDIT/END/ABORT/CANCEL): always first;
 * 2. small messages (those that fit one frame with a BATCH entry header) at the head of their
 *    channel's lane: coalesced into BATCH frames, so many small messages cost one transport send;
 * 3. bulk sources in round-robin: the large message at the head of each lane, chunk by chunk,
 *    and stream data.
 * When small messages and bulk are both pending they alternate, so a small message on another
 * channel waits for at most one in-progress chunk, and a steady flow of small messages cannot
 * starve a transfer. A batch sent while bulk was waiting for an ACK took no turn from it, so it
 * does not give bulk the next turn. Within one channel a message waits for the ones sent before
 * it (FIFO).
 *
 * Unordered messages (`SendOptions.ordered: false`, used for values) skip their channel's FIFO:
 * small ones queue in a lane of their own (so they stay in order among themselves), and a large
 * one goes straight to admission without holding anything back. They complete, and are delivered,
 * in order of completion: a small value sent during a 64 MiB one arrives long before it.
 *
 * A lane's large message joins the rotation only while the peer's advertised reassembly limits
 * (`maxReassembling`, `maxReassemblyBytes`) allow; the others wait, in order. This mirrors the
 * receiver's check exactly, so a well-behaved sender is never disconnected for quota.
 *
 * Bulk window: DATA and STREAM_DATA bytes handed to the transport but not yet acknowledged by the
 * peer (ACK frames) are "in flight", and bulk frames wait while that reaches the window. Once bytes
 * leave our queue, every layer below (the channel's buffer, the SCTP stack's send and receive
 * buffers, the receiving thread's event queue) is first-in first-out, so what is in flight is what
 * a small message sent now waits behind. While the session is interactive (a small message was
 * queued within the last {@link BULK_PACING.interactiveHoldMs}), the window shrinks to
 * {@link BULK_PACING.interactiveWindowBytes} and bulk frames to
 * {@link BULK_PACING.interactiveFrameBytes}: a conversation during a transfer stays fast, and the
 * transfer runs at full window again once it stops. docs/architecture.md, "Latency during bulk".
 *
 * The receiving side acknowledges bulk bytes it took off the connection in an ACK (a control frame)
 * when a frame asks for one (BULK_FLAGS.ACK_REQUEST), and at the end of each message or stream.
 * The sender asks once {@link BULK_PACING.ackRequestFraction} of the window went out since it last
 * asked, and with every frame that fills the window: few ACKs during a transfer (each transport
 * send costs far more than its 8 bytes suggest: node-datachannel's send of an ACK took ~1 ms of
 * the receiving thread while the association was busy), yet one is always on its way when the
 * sender waits.
 *
 * The scheduler never sends: the session's pump calls `next()`, hands the frame to the transport,
 * then calls `handed()`, with no await in between.
 */
import { PeerjectError, formatBytes } from '../errors.js'
import { Fifo } from './fifo.js'
import type { HelloFields } from './frame.js'
import {
  BATCH_ENTRY_LAYOUT,
  BATCH_LAYOUT,
  BULK_FLAGS,
  BULK_FLAGS_OFFSET,
  FRAME_KIND,
  encodeAck,
  encodeCancel,
  writeU16,
  writeU32,
} from './frame.js'
import { MAX_U32 } from './limits.js'
import type { BulkSource } from './outgoing-message.js'
import { OutgoingMessage } from './outgoing-message.js'

const MAX_BATCH_ENTRIES = 0xffff

/** Bulk pacing (see the file comment). Sender-side choices: the peer only sends ACKs. */
export const BULK_PACING = {
  /** Bulk bytes in flight when no small message is being exchanged. */
  windowBytes: 4 * 1024 * 1024,
  /** Bulk bytes in flight while the session is interactive. */
  interactiveWindowBytes: 8 * 1024,
  /** Largest bulk frame while the session is interactive. */
  interactiveFrameBytes: 8 * 1024,
  /** How long after the last small message the session counts as interactive. */
  interactiveHoldMs: 250,
  /**
   * A bulk frame asks for an ACK (BULK_FLAGS.ACK_REQUEST) once this fraction of the window went
   * out since the last request, and whenever it fills the window.
   */
  ackRequestFraction: 1 / 4,
} as const

/** True for the frame kinds the bulk window counts. */
function isBulkFrame(frame: Uint8Array): boolean {
  return frame[0] === FRAME_KIND.DATA || frame[0] === FRAME_KIND.STREAM_DATA
}

/** Lane keys: a channel's ordered lane is keyed by the channel, its unordered one by this + it. */
const UNORDERED_LANES = 256

/** The ordered (or the small unordered) messages of one channel, in send order. */
interface Lane {
  readonly queue: Fifo<OutgoingMessage>
  /** The large message at the head of the lane (waiting for admission or in the rotation). */
  active: OutgoingMessage | undefined
  /** In the list of lanes whose head is a small message. */
  ready: boolean
}

/** Frame producer for one session. */
export class Scheduler {
  readonly #control = new Fifo<Uint8Array>()
  readonly #lanes = new Map<number, Lane>()
  readonly #readyLanes: Lane[] = []
  readonly #waiting = new Fifo<OutgoingMessage>()
  /** Large unordered messages: in no lane, waiting for admission or in the rotation. */
  readonly #unordered = new Set<OutgoingMessage>()
  readonly #rotation: BulkSource[] = []
  readonly #kick: () => void
  readonly #full: () => void
  /** Bytes of small messages queued since the last BATCH was built (or `full` was called). */
  #smallBytes = 0
  #next = 0
  #firstLane = 0
  #preferBulk = false
  #peer: HelloFields | undefined
  #chunkBytes = 0
  /** The reused frame buffer (see `open`). */
  #scratch: Uint8Array | undefined
  #nextMessageId = 0
  #peerReassembling = 0
  #peerReassemblyBytes = 0
  /** What the frame returned by the last `next()` carries, settled by `handed()`. */
  #batch: OutgoingMessage[] = []
  #source: BulkSource | undefined
  #sourceBytes = 0
  /** Bulk bytes handed to the transport, and how many of them the peer acknowledged. */
  #bulkSent = 0
  #bulkAcked = 0
  /** When the last small message was queued (performance.now()), for interactive pacing. */
  #lastSmallAt = Number.NEGATIVE_INFINITY
  /** `#bulkSent` just after the last frame that asked for an ACK. */
  #ackRequestedAt = 0
  /** The frame from the last `next()` asks for an ACK. */
  #sourceRequests = false
  /** Bulk bytes received and not yet acknowledged to the peer. */
  #ackPending = 0
  #ackNow = false

  /**
   * `kick` asks the session to run its pump soon (new work arrived); `full` asks it to run the
   * pump now, because small messages worth a whole BATCH frame are queued: coalescing more could
   * not make that frame any larger.
   */
  constructor(kick: () => void, full: () => void) {
    this.#kick = kick
    this.#full = full
  }

  /** Control frames waiting. */
  get controlLength(): number {
    return this.#control.length
  }

  /** Frames and messages waiting to go out (control frames, messages, bulk sources). */
  get queued(): number {
    let messages = 0
    for (const lane of this.#lanes.values()) {
      messages += lane.queue.length + (lane.active === undefined ? 0 : 1)
    }
    const streams = this.#rotation.filter((source) => !(source instanceof OutgoingMessage)).length
    return this.#control.length + messages + this.#unordered.size + streams
  }

  /**
   * Data may flow: the peer's HELLO arrived and the frame size is negotiated. `reuseFrames`: the
   * transport copies each frame before `send` returns, so message chunks are framed in one reused
   * buffer (no allocation, and no garbage, per frame).
   */
  open(peer: HelloFields, chunkBytes: number, reuseFrames = false): void {
    this.#peer = peer
    this.#chunkBytes = chunkBytes
    this.#scratch = reuseFrames ? new Uint8Array(chunkBytes) : undefined
    this.#kick()
  }

  /** Bulk bytes handed to the transport and not yet acknowledged by the peer. */
  get inFlight(): number {
    return this.#bulkSent - this.#bulkAcked
  }

  /**
   * The peer acknowledged `bytes` of bulk. Throws ERR_BAD_MESSAGE when that is more than is in
   * flight (a confused or hostile peer).
   */
  acked(bytes: number): void {
    if (bytes > this.inFlight) {
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `the peer acknowledged ${bytes} bulk bytes, but only ${this.inFlight} are in flight`,
      )
    }
    this.#bulkAcked += bytes
    if (this.#rotation.length > 0) this.#kick()
  }

  /**
   * This side received a bulk frame of `bytes` bytes; `flush` (the frame asked for an ACK, or a
   * message or stream ended) acknowledges everything pending at once.
   */
  received(bytes: number, flush: boolean): void {
    this.#ackPending += bytes
    if (flush) {
      this.#ackNow = true
      this.#kick()
    }
  }

  /** Queues a control frame (sent before any data). */
  control(frame: Uint8Array): void {
    this.#control.push(frame)
    this.#kick()
  }

  /** Queues a message. Call after `open`. Rejects it at once when the peer would refuse it. */
  message(message: OutgoingMessage): void {
    const peer = this.#peer
    if (peer === undefined || message.settled) return
    if (message.total > peer.maxMessageBytes) {
      message.reject(
        new PeerjectError(
          'ERR_TOO_LARGE',
          `message of ${formatBytes(message.total)} exceeds the peer's maxMessageBytes (${formatBytes(peer.maxMessageBytes)}); send it as a byte stream, or raise maxMessageBytes in the peer's wire limits`,
        ),
      )
      return
    }
    if (!message.ordered && !this.#isSmall(message)) {
      this.#unordered.add(message)
      this.#waiting.push(message)
      this.#admit()
      this.#kick()
      return
    }
    if (this.#rotation.length > 0 || this.inFlight > 0) this.#lastSmallAt = performance.now()
    const key = message.ordered ? message.channel : UNORDERED_LANES + message.channel
    let lane = this.#lanes.get(key)
    if (lane === undefined) {
      lane = { queue: new Fifo(), active: undefined, ready: false }
      this.#lanes.set(key, lane)
    }
    lane.queue.push(message)
    if (lane.active === undefined && !lane.ready) this.#promote(lane)
    this.#kick()
    if (!this.#isSmall(message)) return
    this.#smallBytes += BATCH_ENTRY_LAYOUT.SIZE + message.total
    if (this.#smallBytes + BATCH_LAYOUT.SIZE >= this.#chunkBytes) {
      this.#smallBytes = 0
      this.#full()
    }
  }

  /** Puts a bulk source (back) into the rotation. */
  activate(source: BulkSource): void {
    if (source.scheduled) return
    source.scheduled = true
    this.#rotation.push(source)
    this.#kick()
  }

  /** Takes a bulk source out of the rotation. */
  deactivate(source: BulkSource): void {
    if (!source.scheduled) return
    source.scheduled = false
    const index = this.#rotation.indexOf(source)
    if (index < 0) return
    this.#rotation.splice(index, 1)
    if (index < this.#next) this.#next--
  }

  /**
   * The caller aborted `message` before its last byte was handed over. A message the peer holds
   * partly is cancelled with a CANCEL frame (which overtakes any later data: control goes first).
   */
  abort(message: OutgoingMessage): void {
    if (message.settled) return
    message.reject(new PeerjectError('ERR_ABORTED', 'the send was aborted'))
    const lane = this.#lanes.get(message.channel)
    const active = lane?.active === message
    // Neither a lane's active message nor a large unordered one: still queued, skipped lazily.
    if (!active && !this.#unordered.delete(message)) return
    if (message.scheduled) {
      this.deactivate(message)
      if (message.sent > 0) this.control(encodeCancel(message.id))
      this.#release(message)
    }
    if (active && lane !== undefined) {
      lane.active = undefined
      this.#promote(lane)
    }
  }

  /** The next frame to hand to the transport, or `undefined` when there is nothing to send. */
  next(): Uint8Array | undefined {
    const control = this.#control.shift()
    if (control !== undefined) return control
    if (this.#ackNow) {
      this.#ackNow = false
      const bytes = Math.min(this.#ackPending, MAX_U32)
      this.#ackPending -= bytes
      if (bytes > 0) return encodeAck(bytes)
    }
    if (this.#peer === undefined) return undefined
    const hasSmall = this.#refreshReady()
    if (hasSmall && (!this.#preferBulk || this.#rotation.length === 0)) {
      // Bulk gets the next turn only if it was held back by this batch. Bulk waiting for an ACK
      // was not: then the next small message goes first too, instead of behind a fresh frame.
      this.#preferBulk = this.inFlight === 0 || !this.#windowFull() // (no clock read when idle)
      return this.#buildBatch()
    }
    const frame = this.#takeBulk()
    if (frame !== undefined) {
      this.#preferBulk = false
      return frame
    }
    return hasSmall ? this.#buildBatch() : undefined
  }

  /** The frame from the last `next()` was handed to the transport: settle what it carried. */
  handed(): void {
    const source = this.#source
    if (source !== undefined) {
      this.#source = undefined
      this.#bulkSent += this.#sourceBytes
      if (this.#sourceRequests) this.#ackRequestedAt = this.#bulkSent
      source.handed()
      if (source instanceof OutgoingMessage && source.complete) {
        this.deactivate(source)
        this.#unordered.delete(source)
        this.#release(source)
        const lane = this.#lanes.get(source.channel)
        if (lane !== undefined && lane.active === source) {
          lane.active = undefined
          this.#promote(lane)
        }
      }
      return
    }
    if (this.#batch.length === 0) return
    const batch = this.#batch
    this.#batch = []
    for (const message of batch) message.handedWhole()
  }

  /** Rejects every queued message (the session closed). Streams are failed by their owners. */
  failAll(error: PeerjectError): void {
    for (const lane of this.#lanes.values()) {
      lane.active?.reject(error)
      for (const message of lane.queue.drain()) message.reject(error)
    }
    this.#lanes.clear()
    for (const message of this.#unordered) message.reject(error)
    this.#unordered.clear()
    this.#readyLanes.length = 0
    this.#waiting.drain()
    for (const message of this.#batch) message.reject(error)
    this.#batch = []
    for (const source of this.#rotation.splice(0)) source.scheduled = false
    this.#control.drain()
    this.#source = undefined
  }

  #isSmall(message: OutgoingMessage): boolean {
    return BATCH_LAYOUT.SIZE + BATCH_ENTRY_LAYOUT.SIZE + message.total <= this.#chunkBytes
  }

  /**
   * Looks at the head of a lane with no active large message: a small head puts the lane in the
   * ready list; a large head becomes the lane's active message and waits for admission.
   */
  #promote(lane: Lane): void {
    for (;;) {
      const head = lane.queue.peek()
      if (head === undefined) return
      if (head.settled) {
        lane.queue.shift()
        continue
      }
      if (this.#isSmall(head)) {
        if (!lane.ready) {
          lane.ready = true
          this.#readyLanes.push(lane)
        }
        return
      }
      lane.queue.shift()
      lane.active = head
      this.#waiting.push(head)
      this.#admit()
      return
    }
  }

  /** Drops settled heads of ready lanes; lanes whose head is no longer small leave the list. */
  #refreshReady(): boolean {
    const lanes = this.#readyLanes
    for (let i = lanes.length - 1; i >= 0; i--) {
      const lane = lanes[i]!
      let head = lane.queue.peek()
      while (head?.settled === true) {
        lane.queue.shift()
        head = lane.queue.peek()
      }
      if (head === undefined || !this.#isSmall(head)) {
        lane.ready = false
        lanes.splice(i, 1)
        this.#promote(lane)
      }
    }
    return lanes.length > 0
  }

  #buildBatch(): Uint8Array {
    this.#smallBytes = 0
    const limit = this.#chunkBytes
    let size: number = BATCH_LAYOUT.SIZE
    const batch = this.#batch
    const lanes = this.#readyLanes
    const first = this.#firstLane++ % lanes.length
    let full = false
    for (let i = 0; i < lanes.length && !full; i++) {
      const queue = lanes[(first + i) % lanes.length]!.queue
      for (;;) {
        const head = queue.peek()
        if (head === undefined) break
        if (head.settled) {
          queue.shift()
          continue
        }
        const entry = BATCH_ENTRY_LAYOUT.SIZE + head.total
        if (size + entry > limit || batch.length === MAX_BATCH_ENTRIES) {
          full = true // a large head stops only its own lane; a full frame stops the batch
          break
        }
        if (!this.#isSmall(head)) break
        size += entry
        batch.push(head)
        queue.shift()
      }
    }
    // In the reused frame buffer when the transport copies on send (no 256 KiB of garbage per
    // frame of small messages); every byte is written but the reserved one.
    const frame =
      this.#scratch === undefined ? new Uint8Array(size) : this.#scratch.subarray(0, size)
    frame[BATCH_LAYOUT.RESERVED] = 0
    frame[BATCH_LAYOUT.KIND] = FRAME_KIND.BATCH
    writeU16(frame, BATCH_LAYOUT.COUNT, batch.length)
    let at: number = BATCH_LAYOUT.SIZE
    for (const message of batch) {
      writeU32(frame, at + BATCH_ENTRY_LAYOUT.LENGTH, message.total)
      frame[at + BATCH_ENTRY_LAYOUT.CHANNEL] = message.channel
      frame.set(message.bytes, at + BATCH_ENTRY_LAYOUT.SIZE)
      at += BATCH_ENTRY_LAYOUT.SIZE + message.total
    }
    return frame
  }

  #interactive(): boolean {
    return performance.now() - this.#lastSmallAt < BULK_PACING.interactiveHoldMs
  }

  /**
   * Bulk must wait for the ACK it asked for (`acked` kicks the pump). When none is outstanding
   * (the window just shrank, or the frames in flight asked for none), one more frame may go,
   * asking for one.
   */
  #windowFull(interactive = this.#interactive()): boolean {
    const window = interactive ? BULK_PACING.interactiveWindowBytes : BULK_PACING.windowBytes
    return this.inFlight >= window && this.#bulkAcked < this.#ackRequestedAt
  }

  #takeBulk(): Uint8Array | undefined {
    const rotation = this.#rotation
    if (rotation.length === 0) return undefined
    const interactive = this.#interactive()
    if (this.#windowFull(interactive)) return undefined
    const window = interactive ? BULK_PACING.interactiveWindowBytes : BULK_PACING.windowBytes
    const frameBytes = interactive
      ? Math.min(this.#chunkBytes, BULK_PACING.interactiveFrameBytes)
      : this.#chunkBytes
    while (rotation.length > 0) {
      if (this.#next >= rotation.length) this.#next = 0
      const source = rotation[this.#next]!
      const frame = source.take(frameBytes, this.#scratch)
      if (frame !== undefined) {
        this.#source = source
        const bulk = isBulkFrame(frame) ? frame.byteLength : 0
        this.#sourceBytes = bulk
        this.#sourceRequests =
          bulk > 0 &&
          (this.inFlight + bulk >= window ||
            this.#bulkSent + bulk - this.#ackRequestedAt >= window * BULK_PACING.ackRequestFraction)
        if (this.#sourceRequests) frame[BULK_FLAGS_OFFSET] = BULK_FLAGS.ACK_REQUEST
        this.#next++
        return frame
      }
      // Nothing to send now (no credit, no data, or settled): leave until re-activated.
      source.scheduled = false
      rotation.splice(this.#next, 1)
    }
    return undefined
  }

  /** Moves waiting large messages into the rotation while the peer's limits allow. */
  #admit(): void {
    const peer = this.#peer
    if (peer === undefined) return
    for (;;) {
      const head = this.#waiting.peek()
      if (head === undefined) return
      if (head.settled) {
        this.#waiting.shift()
        continue
      }
      if (this.#peerReassembling >= peer.maxReassembling) return
      if (
        this.#peerReassembling > 0 &&
        this.#peerReassemblyBytes + head.total > peer.maxReassemblyBytes
      ) {
        return
      }
      this.#waiting.shift()
      head.id = this.#nextMessageId
      this.#nextMessageId = this.#nextMessageId === MAX_U32 ? 0 : this.#nextMessageId + 1
      this.#peerReassembling++
      this.#peerReassemblyBytes += head.total
      this.activate(head)
    }
  }

  #release(message: OutgoingMessage): void {
    this.#peerReassembling--
    this.#peerReassemblyBytes -= message.total
    this.#admit()
  }
}
