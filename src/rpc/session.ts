/**
 * One rpc session: this peer and one other, over one ordered byte channel. The transport boundary
 * is captp's: a `send` function out, {@link RpcSession.dispatch} in, {@link RpcSession.close} when
 * the peer leaves. The room keeps one session per peer and one {@link ExportRegistry} for all.
 *
 * The session owns the codec hooks — the one function ({@link RpcSession} `#exportHook`) that
 * decides how a function or by-reference object crosses: a stub going home as `['o', id]`, anything
 * else as a new (or re-counted) export `['e', id]`; streams go to the `streams` option.
 *
 * Failure rules: hostile or malformed input never throws out of `dispatch`. An operation that
 * fails (unknown id, denied, quota) rejects for its caller only; a protocol violation (undecodable
 * bytes, a malformed message, ids that do not increase, forged releases) is reported once through
 * `onError`, closes this session, and is passed to `onViolation`, whose owner tells the peer (the
 * room closes that peer's connection, so the peer's pending calls reject too instead of waiting
 * for answers that will never come). `close` settles every pending promise.
 *
 * Over 400 lines on purpose: the outgoing queue (post, flush, batches, send failures) shares the
 * session's closed state, hooks and error paths; split, each half would reach into the other.
 */
import { Inline, type Codec, type ExternalHooks, type PathSegment } from '../codec/index.js'
import { PeerjectError, formatBytes } from '../errors.js'
import { defaultAuthorizer, formatPath, type Authorizer } from './authorizer.js'
import type { ExportRegistry } from './export-registry.js'
import { Exporter } from './exporter.js'
import { defaultFinalizer, Importer, type FinalizerFactory } from './importer.js'
import { resolveLimits, type RpcLimits } from './limits.js'
import { deferredSize, isBatch, MAX_BATCH_BYTES, type Outgoing } from './outbox.js'
import { isRefData, isRpcMessage } from './protocol.js'
import { controllerOf, ForceReference } from './stub.js'
import type { Remote } from './types.js'

/** How streams cross (owned by the stream feature; the session passes them through). */
export interface StreamHooks {
  /** Returns plain encodable data describing `value` (a ReadableStream) at `path`. */
  export(value: object, path: string): unknown
  /** Returns the live stream for `data`. */
  import(data: unknown): unknown
}

/** Options of {@link RpcSession}. */
export interface RpcSessionOptions {
  /** The other peer's id (used in messages and given to the authorizer). */
  readonly peer: string
  /** The room's codec (class registry, stacks, depth). */
  readonly codec: Codec
  /**
   * Sends one message to the peer, reliably and in the order of the calls (the session calls it
   * again without waiting for earlier promises). A rejection with ERR_TOO_LARGE fails that
   * message's operation; any other rejection closes the session.
   */
  readonly send: (bytes: Uint8Array) => Promise<void>
  /** Objects this peer exposes by name (shared by the room's sessions). */
  readonly exports: ExportRegistry
  /** Screens the peer's operations; default {@link defaultAuthorizer}. */
  readonly authorize?: Authorizer
  /** Per-peer limits; defaults in `DEFAULT_RPC_LIMITS`. */
  readonly limits?: Partial<RpcLimits>
  /** Stream crossing, delegated to the stream feature. Without it, streams are refused. */
  readonly streams?: StreamHooks
  /** Failures nobody awaits: fire-and-forget assignments, protocol violations. */
  readonly onError?: (error: PeerjectError) => void
  /**
   * The largest message the peer accepts, when known: a message over it fails its operation at
   * once (ERR_TOO_LARGE), before anything issued after it can refer to what it would have created.
   */
  readonly maxMessageBytes?: () => number | undefined
  /** The peer broke the protocol and this session closed (after `onError`): tell the peer. */
  readonly onViolation?: (error: PeerjectError) => void
  /** Makes the registry that releases collected stubs (tests inject one). */
  readonly finalizer?: FinalizerFactory
}

/** Counts for debugging (`session.stats()`). */
export interface RpcStats {
  /** The other peer. */
  readonly peer: string
  /** Imports held: references from the peer and results of calls not yet released. */
  readonly imports: number
  /** Exports held for the peer: references sent, names resolved, results of its calls. */
  readonly exports: number
  /** Own requests and pulls waiting for a reply. */
  readonly pendingCalls: number
  /** The peer's operations running or queued here. */
  readonly inFlight: number
  /** Messages waiting for `send`. */
  readonly queuedMessages: number
  /** Whether the session is closed. */
  readonly closed: boolean
}

/** The rpc session with one peer. */
export class RpcSession {
  readonly #options: RpcSessionOptions
  readonly #limits: RpcLimits
  readonly #importer: Importer
  readonly #exporter: Exporter
  readonly #importHooks: ExternalHooks
  readonly #exportHooks: ExternalHooks
  /** Exports created by the encoding in progress (see {@link RpcSession} `#post`). */
  #exported: number[] | undefined
  /** The message being encoded, for naming paths in errors (`arguments[0] of add()`). */
  #encoding: readonly unknown[] | undefined
  #outbox: Outgoing[] = []
  /** A macrotask will flush queued releases. */
  #releaseArmed = false
  #flushScheduled = false
  /** Messages handed to `send` whose promise has not settled yet. */
  #unsettled = 0
  /** Bytes of messages encoded at post whose `send` has not settled yet (see `#answer`). */
  #queuedBytes = 0
  /** Answers waiting, unencoded, for {@link ANSWER_WINDOW_BYTES} to have room. */
  readonly #waitingAnswers: Array<
    [readonly unknown[], ((error: PeerjectError) => void) | undefined, (() => void) | undefined]
  > = []
  #closed: PeerjectError | undefined

  constructor(options: RpcSessionOptions) {
    this.#options = options
    this.#limits = resolveLimits(options.limits)
    const peer = options.peer
    const post = (
      message: readonly unknown[],
      onFailure?: (error: PeerjectError) => void,
      onSent?: () => void,
    ): void => this.#post(message, onFailure, onSent)
    this.#importer = new Importer(
      { peer, limits: this.#limits, post, report: (error) => this.#report(error) },
      options.finalizer ?? defaultFinalizer,
    )
    this.#exporter = new Exporter({
      peer,
      limits: this.#limits,
      registry: options.exports,
      authorize: options.authorize ?? defaultAuthorizer,
      post,
      answer: (message, onFailure, onSent) => this.#answer(message, onFailure, onSent),
    })
    this.#importHooks = {
      export: () => {
        throw new PeerjectError('ERR_INTERNAL', 'export hook used while decoding')
      },
      import: (kind, data) => this.#importHook(kind, data),
    }
    this.#exportHooks = {
      export: (kind, value, path) => this.#exportHook(kind, value, path),
      import: () => {
        throw new PeerjectError('ERR_INTERNAL', 'import hook used while encoding')
      },
      name: (segments) =>
        this.#encoding === undefined ? undefined : nameInMessage(this.#encoding, segments),
    }
  }

  /** The other peer's id. */
  get peer(): string {
    return this.#options.peer
  }

  /** Why the session closed, or undefined while open. */
  get closed(): PeerjectError | undefined {
    return this.#closed
  }

  /**
   * Handles one message (or batch of messages, see "Batching" in docs/rpc.md) from the peer.
   * Never throws; see the file comment for failure rules.
   */
  dispatch(bytes: Uint8Array): void {
    if (this.#closed !== undefined) return
    let message: unknown
    try {
      message = this.#options.codec.decode(bytes, this.#importHooks)
    } catch (error) {
      this.#violation(asBadMessage(error, 'an rpc message could not be decoded'))
      return
    }
    if (!isBatch(message)) {
      this.#receive(message)
      return
    }
    for (let i = 0; i < message.length && this.#closed === undefined; i++) {
      this.#receive(message[i])
    }
  }

  /** The names the peer exposes (that its authorizer lets this peer resolve). */
  async list(): Promise<string[]> {
    const names = await this.#importer.list()
    if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `peer ${this.peer} answered list() with something other than names`,
      )
    }
    return names as string[]
  }

  /**
   * A stub of the object the peer exposes as `name`. Sends `resolve` at once; a missing or denied
   * name rejects the first operation on the stub (ERR_NOT_FOUND / ERR_DENIED).
   */
  resolve<T>(name: string): Remote<T> {
    return this.#importer.resolve(name) as Remote<T>
  }

  /**
   * Ends the session (the peer left, this side closed it, or a violation): every pending call
   * rejects ERR_PEER_LEFT (with `reason` as cause unless it is that already) or, when this side
   * closed (`reason` ERR_CLOSED: you left the room), ERR_CLOSED, as pending sends do; stubs of
   * the peer become unusable, exports held for it are dropped. Idempotent.
   */
  close(reason: PeerjectError): void {
    if (this.#closed !== undefined) return
    const left =
      reason.code === 'ERR_PEER_LEFT' || reason.code === 'ERR_CLOSED'
        ? reason
        : new PeerjectError(
            'ERR_PEER_LEFT',
            `the session with peer ${this.peer} closed: ${reason.message}`,
            {
              cause: reason,
            },
          )
    this.#closed = left
    this.#outbox.length = 0
    this.#waitingAnswers.length = 0
    this.#queuedBytes = 0
    this.#importer.close(left)
    this.#exporter.close()
  }

  /** Counts of imports, exports and pending operations, for debugging. */
  stats(): RpcStats {
    return {
      peer: this.peer,
      imports: this.#importer.size,
      exports: this.#exporter.size,
      pendingCalls: this.#importer.pending,
      inFlight: this.#exporter.inFlight,
      queuedMessages: this.#outbox.length + this.#unsettled + this.#waitingAnswers.length,
      closed: this.#closed !== undefined,
    }
  }

  /** One message of the peer, in arrival order. */
  #receive(message: unknown): void {
    if (!isRpcMessage(message, this.#limits)) {
      this.#violation(new PeerjectError('ERR_BAD_MESSAGE', 'malformed rpc message'))
      return
    }
    try {
      if (message[0] === 'return' || message[0] === 'throw') {
        const ok = message[0] === 'return'
        const value = ok ? message[2] : this.#remoteError(message[2])
        if (!this.#importer.settle(message[1], ok, value)) {
          throw new PeerjectError(
            'ERR_BAD_MESSAGE',
            `reply for request ${message[1]}, which was never sent`,
          )
        }
      } else {
        this.#exporter.receive(message)
      }
    } catch (error) {
      this.#violation(asBadMessage(error, 'an rpc message was refused'))
    }
  }

  /**
   * Queues `message` for `send`. A message of primitives is encoded at the flush, with its
   * neighbours (src/rpc/outbox.ts); any other is encoded now, with the export hook, so what
   * crosses is its values as they are at the call.
   */
  #post(
    message: readonly unknown[],
    onFailure?: (error: PeerjectError) => void,
    onSent?: () => void,
  ): void {
    if (this.#closed !== undefined) {
      onFailure?.(this.#closed)
      return
    }
    const size = deferredSize(message)
    if (size >= 0) {
      this.#outbox.push({
        message,
        bytes: undefined,
        size,
        exported: undefined,
        onFailure,
        onSent,
      })
    } else {
      // Encodings nest when a stream hook posts: keep the outer one's exports apart.
      const outer = this.#exported
      const outerMessage = this.#encoding
      this.#exported = undefined
      this.#encoding = message
      let bytes: Uint8Array
      try {
        bytes = this.#options.codec.encode(message, this.#exportHooks)
      } catch (error) {
        for (const id of this.#exported ?? []) this.#exporter.unexport(id)
        this.#exported = outer
        this.#encoding = outerMessage
        const coded = asCoded(error, 'ERR_UNSERIALIZABLE')
        if (onFailure !== undefined) onFailure(coded)
        else this.#report(coded)
        return
      }
      const exported = this.#exported
      this.#exported = outer
      this.#encoding = outerMessage
      const limit = this.#options.maxMessageBytes?.()
      if (limit !== undefined && bytes.byteLength > limit) {
        const error = new PeerjectError(
          'ERR_TOO_LARGE',
          `an rpc message of ${formatBytes(bytes.byteLength)} exceeds peer ${this.peer}'s maxMessageBytes (${formatBytes(limit)}); pass a byte stream, or have the peer raise limits.maxMessageBytes`,
        )
        for (const id of exported ?? []) this.#exporter.unexport(id)
        if (onFailure !== undefined) onFailure(error)
        else this.#report(error)
        return
      }
      this.#outbox.push({ message: undefined, bytes, size: 0, exported, onFailure, onSent })
      this.#queuedBytes += bytes.byteLength
    }
    if (message[0] !== 'release') {
      // Flush two microtask hops later, so what the caller's own `await` adds (the `pull` that
      // `await stub.method()` issues from `then`, one hop after the call) leaves with it.
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        RESOLVED.then(this.#secondHop)
      }
      return
    }
    // A release is never urgent: it waits (at most until the next macrotask) to travel with the
    // next message, e.g. the next call of a loop, instead of costing a data channel message of
    // its own. Delaying a release is always safe; it is never sent before what preceded it. The
    // macrotask is not cancelled by flushes (it then finds nothing to send): a loop of calls
    // arms one per turn of the event loop, and where `setImmediate` exists, no timer at all.
    if (!this.#releaseArmed) {
      this.#releaseArmed = true
      nextMacrotask(this.#releaseFlush)
    }
  }

  /**
   * Posts an answer, or queues it unencoded while the encoded messages not yet handed to the
   * channel hold {@link ANSWER_WINDOW_BYTES} or more. Answers are what a peer can make this side
   * produce at will (a flood of `get`s of a large value): encoding each at once would hold a copy
   * of every one until the channel takes it. Waiting, an answer holds only its value, and its
   * in-flight slot (src/rpc/exporter.ts), so the peer's own quota bounds how many wait. An answer
   * that waited is encoded when it leaves, so it carries the value as it is then.
   */
  #answer(
    message: readonly unknown[],
    onFailure?: (error: PeerjectError) => void,
    onSent?: () => void,
  ): void {
    if (
      this.#closed === undefined &&
      (this.#waitingAnswers.length > 0 || this.#queuedBytes >= ANSWER_WINDOW_BYTES)
    ) {
      this.#waitingAnswers.push([message, onFailure, onSent])
      return
    }
    this.#post(message, onFailure, onSent)
  }

  /** Posts waiting answers while the window has room. */
  #admitAnswers(): void {
    while (
      this.#closed === undefined &&
      this.#waitingAnswers.length > 0 &&
      this.#queuedBytes < ANSWER_WINDOW_BYTES
    ) {
      const [message, onFailure, onSent] = this.#waitingAnswers.shift()!
      this.#post(message, onFailure, onSent)
    }
  }

  readonly #releaseFlush = (): void => {
    this.#releaseArmed = false
    if (this.#closed === undefined) this.#flush()
  }

  /** The second microtask hop before a flush (a resolved promise's `then` is cheaper than queueMicrotask). */
  readonly #secondHop = (): void => {
    RESOLVED.then(this.#flushNow)
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    this.#flush()
  }

  /**
   * Hands every queued message to `send` at once, without waiting for earlier ones to settle: the
   * wire keeps the rpc channel's order and applies flow control, and messages issued together
   * (a pipelined chain, a call with its pull) then share one frame. Waiting for each send before
   * the next cost one channel message per rpc message (bench: RPC round trip 2.1× raw ping-pong).
   * Consecutive deferred messages are encoded as one batch (up to MAX_BATCH_BYTES).
   */
  #flush(): void {
    this.#importer.commit()
    const items = this.#outbox
    if (items.length === 0) return
    this.#outbox = []
    let runStart = 0
    let runBytes = 0
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Outgoing
      if (item.bytes === undefined) {
        if (runBytes + item.size > MAX_BATCH_BYTES && i > runStart) {
          this.#sendBatch(items, runStart, i)
          runStart = i
          runBytes = 0
        }
        runBytes += item.size
        continue
      }
      if (i > runStart) this.#sendBatch(items, runStart, i)
      this.#send(item.bytes, items, i, i + 1)
      runStart = i + 1
      runBytes = 0
    }
    if (items.length > runStart) this.#sendBatch(items, runStart, items.length)
  }

  /** Encodes the deferred messages `items[from..to)` in one codec pass and sends them. */
  #sendBatch(items: readonly Outgoing[], from: number, to: number): void {
    let value: readonly unknown[]
    if (to - from === 1) {
      value = (items[from] as Outgoing).message as readonly unknown[]
    } else {
      const batch: unknown[] = []
      for (let i = from; i < to; i++) batch.push((items[i] as Outgoing).message)
      value = batch
    }
    let bytes: Uint8Array
    try {
      bytes = this.#options.codec.encodePrimitives(value)
    } catch (error) {
      // Unreachable for primitives; fail these messages rather than lose them silently.
      this.#failed(items, from, to, asCoded(error, 'ERR_UNSERIALIZABLE'))
      return
    }
    this.#send(bytes, items, from, to)
  }

  /** Hands `bytes` (carrying `items[from..to)`) to `send`. */
  #send(bytes: Uint8Array, items: readonly Outgoing[], from: number, to: number): void {
    if (this.#closed !== undefined) return
    let sent: Promise<void>
    try {
      sent = this.#options.send(bytes)
    } catch (error) {
      sent = Promise.reject(error)
    }
    this.#unsettled++
    // Bytes counted in #queuedBytes at post: those of a message encoded on its own.
    const counted = (items[from] as Outgoing).bytes === bytes ? bytes.byteLength : 0
    sent.then(
      () => {
        this.#unsettled--
        this.#queuedBytes -= counted
        for (let i = from; i < to; i++) (items[i] as Outgoing).onSent?.()
        if (this.#waitingAnswers.length > 0) this.#admitAnswers()
      },
      (error: unknown) => {
        this.#unsettled--
        this.#queuedBytes -= counted
        if (error instanceof PeerjectError && error.code === 'ERR_TOO_LARGE') {
          this.#failed(items, from, to, error)
          if (this.#waitingAnswers.length > 0) this.#admitAnswers()
          return
        }
        if (this.#closed !== undefined) return
        const reason = asCoded(error, 'ERR_CLOSED')
        this.#report(reason)
        this.close(reason)
      },
    )
  }

  /** `items[from..to)` could not be sent: undo their exports and fail their operations. */
  #failed(items: readonly Outgoing[], from: number, to: number, error: PeerjectError): void {
    for (let i = from; i < to; i++) {
      const item = items[i] as Outgoing
      for (const id of item.exported ?? []) this.#exporter.unexport(id)
      if (item.onFailure !== undefined) item.onFailure(error)
      else this.#report(error)
    }
  }

  /**
   * THE decision for functions and by-reference objects: a stub of this session going home with
   * no path crosses as `['o', id]`; a settled local result crosses as what it holds; everything
   * else (local objects, stubs of other peers, property paths) is exported as `['e', id]`.
   */
  #exportHook(kind: string, value: object, path: string): unknown {
    if (kind === 'stream') {
      const streams = this.#options.streams
      if (streams === undefined) {
        throw new PeerjectError(
          'ERR_UNSERIALIZABLE',
          `${path} is a stream; streams cannot cross here`,
        )
      }
      return streams.export(value, path)
    }
    const target = value instanceof ForceReference ? value.value : value
    const stub = controllerOf(target)
    if (stub !== undefined && stub.path.length === 0) {
      const { handle } = stub
      if (handle.dead !== undefined) throw handle.dead
      if (handle.host === this.#importer && handle.id !== undefined) return ['o', handle.id]
      if (handle.thenable) {
        // A result that arrived crosses as what it resolved to (its value, or its reference).
        const settled = handle.settled
        if (settled?.ok === true) return new Inline(settled.value)
        if (settled !== undefined) {
          throw new PeerjectError(
            'ERR_UNSERIALIZABLE',
            `${path} is the result ${handle.label}, which failed: ${settled.value instanceof Error ? settled.value.message : String(settled.value)}`,
            { cause: settled.value },
          )
        }
        throw new PeerjectError(
          'ERR_UNSERIALIZABLE',
          `${path} is the pending result ${handle.label}; await it and pass the value`,
        )
      }
    }
    const id = this.#exporter.exportValue(target)
    ;(this.#exported ??= []).push(id)
    return ['e', id]
  }

  #importHook(kind: string, data: unknown): unknown {
    if (kind === 'stream') {
      const streams = this.#options.streams
      if (streams === undefined) {
        throw new PeerjectError(
          'ERR_BAD_MESSAGE',
          'the peer sent a stream, but streams are not enabled',
        )
      }
      return streams.import(data)
    }
    if (!isRefData(data)) throw new PeerjectError('ERR_BAD_MESSAGE', 'malformed reference')
    const [where, id] = data
    if (where === 'o') return this.#exporter.lookupOwn(id)
    if (id > 0)
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `the peer sent export id ${id}; its ids are negative`,
      )
    return this.#importer.receive(id, kind === 'function' ? 'function' : 'object')
  }

  /** A received error value as the local rejection reason. */
  #remoteError(value: unknown): unknown {
    if (value instanceof Error) return value
    return new PeerjectError('ERR_REMOTE', `peer ${this.peer} threw a value that is not an Error`, {
      cause: value,
    })
  }

  #report(error: PeerjectError): void {
    try {
      this.#options.onError?.(error)
    } catch (thrown) {
      // A throwing handler must not break the failure rules (dispatch never throws; a violation
      // still closes the session): report it as an uncaught error instead.
      queueMicrotask(() => {
        throw thrown
      })
    }
  }

  #violation(error: PeerjectError): void {
    if (this.#closed !== undefined) return
    this.#report(error)
    this.close(error)
    this.#options.onViolation?.(error)
  }
}

/** Runs `task` in a later macrotask: `setImmediate` in Node (no timer), else `setTimeout(0)`. */
/**
 * Names a path inside an rpc message by what the user sent: `[4][0]` of a call is
 * `arguments[0] of add()`, `[4]` of a set is `value assigned to onChange`, `[2]` of a return is
 * `result of the remote call`. Undefined (the codec's default) for anything else.
 */
function nameInMessage(
  message: readonly unknown[],
  segments: readonly PathSegment[],
): { root: string; consumed: number; suffix: string } | undefined {
  const path = message[3]
  const named = Array.isArray(path) && path.length > 0
  switch (message[0]) {
    case 'call':
    case 'new': {
      const index = segments[2]
      if (segments[1] !== 4 || typeof index !== 'number') return undefined
      // A stub called or constructed itself has no member to name.
      const call = named
        ? `${message[0] === 'new' ? 'new ' : ''}${formatPath(path)}()`
        : `the remote ${message[0] === 'new' ? 'constructor' : 'function'}`
      return { root: `arguments[${index}]`, consumed: 2, suffix: ` of ${call}` }
    }
    case 'set':
      if (segments[1] !== 4 || !named) return undefined
      return { root: 'value', consumed: 1, suffix: ` assigned to ${formatPath(path)}` }
    case 'return':
      if (segments[1] !== 2) return undefined
      return { root: 'result', consumed: 1, suffix: ' of the remote call' }
    case 'throw':
      if (segments[1] !== 2) return undefined
      return { root: 'error', consumed: 1, suffix: ' thrown by the remote call' }
    default:
      return undefined
  }
}

/**
 * Encoded bytes not yet handed to the channel above which answers wait, unencoded (`#answer`):
 * twice the wire's bulk window. Measured with 1 MiB answers, 8 in flight, Node↔Node: a window of
 * 4 MiB cost 14% of the throughput (the channel idled while the next answer was encoded), 8 MiB
 * and 16 MiB none.
 */
const ANSWER_WINDOW_BYTES = 8 * 1024 * 1024

const nextMacrotask: (task: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (task) => void globalThis.setImmediate(task)
    : (task) => void setTimeout(task, 0)

/** Settled once, never changed: schedules microtask hops. */
const RESOLVED = Promise.resolve()

function asCoded(error: unknown, code: 'ERR_UNSERIALIZABLE' | 'ERR_CLOSED'): PeerjectError {
  if (error instanceof PeerjectError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new PeerjectError(code, message, { cause: error })
}

function asBadMessage(error: unknown, what: string): PeerjectError {
  if (error instanceof PeerjectError) return error
  return new PeerjectError(
    'ERR_BAD_MESSAGE',
    `${what}: ${String((error as Error)?.message ?? error)}`,
    {
      cause: error,
    },
  )
}
