/**
 * A room: the peers a connector found, each behind a wire session, plus the features every peer
 * session shares (values here; references and code objects attached by `join.ts`).
 *
 * Presence rules: `peer` fires once a peer's connection is open and its wire hello is done; `leave`
 * fires exactly once for every peer that had `peer`, and also for a peer that was announced but
 * could not connect (with an ERR_CONNECT reason, after an `error` event). `room.peers` only ever
 * holds open peers.
 */
import { totalLength } from './bytes.js'
import type { CodeService } from './code/index.js'
import type { ClassConstructor, ClassRegistry, Codec, RegisterOptions } from './codec/index.js'
import type { Connector } from './connector.js'
import { Emitter } from './emitter.js'
import { PeerjectError, isPeerjectError } from './errors.js'
import type { PeerId } from './ids.js'
import { CHANNEL, Peer, detachPrepared } from './peer.js'
import type { PeerSendOptions, PreparedValue } from './peer.js'
import { ExportRegistry, RpcSession } from './rpc/index.js'
import type { Authorizer, RpcLimits } from './rpc/index.js'
import type { Transport } from './transport/transport.js'
import { transferSet } from './transfer.js'
import { WireSession } from './wire/index.js'
import type { WireLimits } from './wire/index.js'

/** Default `maxQueuedBytes` of {@link Room.messages}. */
const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024

/** Events of a {@link Room}. */
export type RoomEvents = {
  /** A peer joined and its connection is ready. */
  peer: [peer: Peer]
  /** A peer left (or failed to connect; then `reason.code` is ERR_CONNECT). */
  leave: [peer: Peer | PeerId, reason: PeerjectError | undefined]
  /** A value arrived. */
  message: [value: unknown, from: Peer]
  /** A connection-level problem, with its code (the room goes on). */
  error: [error: PeerjectError]
}

/** A message as yielded by {@link Room.messages}. */
export interface RoomMessage {
  readonly value: unknown
  readonly from: Peer
}

/** Per-peer feature sessions (references, code objects) attached by the room's owner. */
export interface FeatureSession {
  /** One message on this feature's channel. */
  dispatch(bytes: Uint8Array): void
  /** The peer is gone; settle everything pending with `reason`. */
  close(reason: PeerjectError): void
}

/** Creates the feature sessions for a newly connected peer. */
export type FeatureFactory = (peer: Peer) => ReadonlyMap<number, FeatureSession>

/** @internal Options the entry points pass to the room. */
export interface RoomInit {
  readonly name: string
  readonly connector: Connector
  readonly codec: Codec
  readonly classes: ClassRegistry
  readonly wireLimits?: Partial<WireLimits>
  readonly rpcLimits?: Partial<RpcLimits>
  readonly authorize?: Authorizer
  readonly code: CodeService
  /** Called once when the room is left (e.g. to stop a worker host). */
  readonly onLeave?: () => void
  readonly features?: FeatureFactory
}

/** Your own code objects: publish, remove, list (the registry view), load and run locally. */
export type RoomCode = Pick<CodeService, 'publish' | 'remove' | 'list' | 'load' | 'run'>

/**
 * The peers of a room by id. `get` and `has` also take a plain string (an id read from a form, a
 * URL or a message), so no cast to {@link PeerId} is needed to look one up.
 */
export interface PeerMap extends ReadonlyMap<PeerId, Peer> {
  get(id: string): Peer | undefined
  has(id: string): boolean
}

/** A joined room. Create with `joinRoom()`. */
export class Room extends Emitter<RoomEvents> {
  /** The room's name. */
  readonly name: string
  readonly #connector: Connector
  readonly #codec: Codec
  readonly #init: RoomInit
  readonly #peers = new Map<PeerId, Peer>()
  readonly #features = new Map<Peer, ReadonlyMap<number, FeatureSession>>()
  readonly #exports = new ExportRegistry()
  #left = false

  /** @internal */
  constructor(init: RoomInit) {
    super()
    this.name = init.name
    this.#init = init
    this.#connector = init.connector
    this.#codec = init.codec
    this.#connector.on('open', (id, transport) => this.#onTransport(id, transport))
    this.#connector.on('failed', (id, error) => {
      this.emit('error', error)
      this.emit('leave', id, error)
    })
    this.#connector.on('error', (error) => this.emit('error', error))
  }

  /** This peer's own id. */
  get self(): PeerId {
    return this.#connector.self
  }

  /**
   * Code objects this peer publishes and serves: `const id = await room.code.publish(source, {
   * name, version, description })` (id = sha-256 of the source), `room.code.remove(id)`,
   * `room.code.list()`. Other peers fetch and run them with `peer.code.run(id)`.
   */
  get code(): RoomCode {
    return this.#init.code
  }

  /** The peers connected now, by id. */
  get peers(): PeerMap {
    return this.#peers
  }

  /**
   * Makes `object` usable by the other peers under `name` (`peer.resolve(name)` on their side).
   * Functions and objects reached through it cross by reference; names starting with `_` are
   * refused unless `joinRoom({ authorize })` allows them. Replaces an earlier object of that name.
   */
  expose(name: string, object: object): void {
    this.#requireOpen('expose')
    this.#exports.expose(name, object)
  }

  /**
   * Lets instances of `ctor` cross as themselves: `room.registerClass(Car, { omit: ['cache'] })`.
   * Register the same name on every peer that sends or receives them (or pass
   * `joinRoom({ classes })`). Fields in `omit` are left out; the constructor is not called on arrival.
   */
  registerClass(ctor: ClassConstructor, options?: RegisterOptions): void {
    this.#init.classes.register(ctor, options)
  }

  /** Stops exposing `name`; stubs already resolved by peers keep working until released. */
  unexpose(name: string): void {
    this.#exports.unexpose(name)
  }

  /** Names this peer exposes. */
  exposed(): string[] {
    return [...this.#exports.names()]
  }

  /**
   * Sends `value` to every connected peer; resolves when all sends resolved. When some peers
   * could not take it, rejects (once every send settled) with the first failure's code, naming
   * that peer; when none could, with that failure as it is. `onProgress` reports the sum over all
   * peers. Byte streams cannot be broadcast (a stream is read once): ERR_UNSERIALIZABLE.
   */
  async broadcast(value: unknown, options: PeerSendOptions = {}): Promise<void> {
    this.#requireOpen('broadcast')
    const peers = [...this.#peers.values()]
    const { onProgress } = options
    const transfer = transferSet(options.transfer)
    const sent = new Array<number>(peers.length).fill(0)
    const totals = new Array<number>(peers.length).fill(0)
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
    // Every peer's encoding first (they read the value, transferred buffers included), then the
    // buffers are detached once for all of them, then the sends start. A peer that cannot take
    // the value (it is leaving) fails its own send only, as with `peer.send`.
    const prepared = peers.map((peer, index) =>
      attempt(() =>
        peer.prepareValue(
          value,
          {
            ...(options.signal === undefined ? {} : { signal: options.signal }),
            ...(onProgress === undefined
              ? {}
              : {
                  onProgress: (bytes: number, total: number) => {
                    sent[index] = bytes
                    totals[index] = total
                    onProgress(sum(sent), sum(totals))
                  },
                }),
          },
          // Shared even with one peer: a stream is refused whoever is in the room, so an app
          // tried with two tabs does not start failing when a third joins.
          true,
          transfer,
        ),
      ),
    )
    const ready = prepared.filter((each): each is PreparedValue => !(each instanceof Failed))
    // Nothing goes out (no peer, or the value cannot cross): the caller keeps its buffers.
    if (ready.length > 0) detachPrepared(transfer, ready)
    // Every peer's size is known now, so the summed progress never goes backwards.
    prepared.forEach((each, index) => {
      if (!(each instanceof Failed)) totals[index] = totalLength(each.parts)
    })
    const outcomes = await Promise.allSettled(
      prepared.map((each, index) =>
        each instanceof Failed ? Promise.reject(each.error) : peers[index]!.sendPrepared(each),
      ),
    )
    const failed: Array<[Peer, unknown]> = []
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'rejected') failed.push([peers[index]!, outcome.reason])
    })
    const [first] = failed
    if (first === undefined) return
    // Nobody got it (a value that cannot cross, say): that error as it is. Some did: say who not.
    if (failed.length === peers.length) throw first[1]
    const [peer, error] = first
    const others = failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''
    throw new PeerjectError(
      isPeerjectError(error) ? error.code : 'ERR_INTERNAL',
      `broadcast reached ${peers.length - failed.length} of ${peers.length} peers; peer ${peer.id}${others} did not get it: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }

  /**
   * Messages as an async iterator: `for await (const { value, from } of room.messages())`.
   * Messages that arrive while the loop body runs are queued, up to `maxQueuedBytes` of their
   * encoded size (default 64 MiB): a peer whose message would not fit is disconnected with
   * ERR_QUOTA (an `error` event; what is queued is still delivered), as for any receiver limit.
   * The iterator ends when the room is left or the loop breaks.
   */
  messages(options: { readonly maxQueuedBytes?: number } = {}): AsyncIterableIterator<RoomMessage> {
    const maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES
    if (!(maxQueuedBytes > 0)) {
      throw new RangeError(`messages: maxQueuedBytes must be positive, got ${maxQueuedBytes}`)
    }
    const queue: Array<{ readonly message: RoomMessage; readonly size: number }> = []
    let queuedBytes = 0
    const waiters: Array<(result: IteratorResult<RoomMessage, undefined>) => void> = []
    let done = this.#left
    const finish = (): void => {
      if (done) return
      done = true
      offMessage()
      this.#onLeave.delete(finish)
      for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true })
    }
    const offMessage = done
      ? () => undefined
      : this.on('message', (value, from) => {
          const waiter = waiters.shift()
          if (waiter !== undefined) {
            waiter({ value: { value, from }, done: false })
            return
          }
          const size = this.#deliveringBytes
          if (queuedBytes + size > maxQueuedBytes) {
            const error = new PeerjectError(
              'ERR_QUOTA',
              `peer ${from.id} sent more than the ${maxQueuedBytes} bytes room.messages() may queue while its loop is busy; it was disconnected (pass messages({ maxQueuedBytes }) to queue more, or handle 'message' events)`,
            )
            this.emit('error', error)
            from.wire.close(error)
            return
          }
          queue.push({ message: { value, from }, size })
          queuedBytes += size
        })
    if (!done) this.#onLeave.add(finish)
    const iterator: AsyncIterableIterator<RoomMessage> = {
      next: () => {
        const item = queue.shift()
        if (item !== undefined) {
          queuedBytes -= item.size
          return Promise.resolve({ value: item.message, done: false })
        }
        if (done) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => waiters.push(resolve))
      },
      return: () => {
        // The loop broke: what is queued is dropped (on leave, it is still delivered, then done).
        queue.length = 0
        queuedBytes = 0
        finish()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  readonly #onLeave = new Set<() => void>()
  /** Encoded size of the value message being delivered (for `messages()`'s queue bound). */
  #deliveringBytes = 0

  /** ERR_CLOSED once the room was left: what `what` would do cannot reach anyone any more. */
  #requireOpen(what: string): void {
    if (this.#left) {
      throw new PeerjectError('ERR_CLOSED', `room.${what}(): you left room "${this.name}"`)
    }
  }

  /** Leaves the room: closes every connection and the signaling session. Idempotent. */
  leave(): void {
    if (this.#left) return
    this.#left = true
    const reason = new PeerjectError('ERR_CLOSED', 'you left the room')
    for (const peer of [...this.#peers.values()]) peer.wire.close(reason)
    this.#connector.close()
    this.#init.code.close(reason)
    this.#init.onLeave?.()
    for (const finish of this.#onLeave) finish()
    this.#onLeave.clear()
  }

  /** `room.leave()` for `using room = await joinRoom(…)`. */
  [Symbol.dispose](): void {
    this.leave()
  }

  #onTransport(id: PeerId, transport: Transport): void {
    if (this.#left) {
      transport.close()
      return
    }
    let wire: WireSession
    try {
      wire = new WireSession(
        transport,
        this.#init.wireLimits === undefined ? {} : { limits: this.#init.wireLimits },
      )
    } catch (error) {
      // E.g. a peer advertising a channel too small to carry frames: refuse that peer only.
      const reason = new PeerjectError(
        'ERR_CONNECT',
        `cannot talk to peer ${id}: ${String(error)}`,
        {
          cause: error,
        },
      )
      transport.close(reason)
      this.emit('error', reason)
      this.emit('leave', id, reason)
      return
    }
    const peer = new Peer(id, wire, this.#codec)
    // Messages that overtake our own `ready` continuation wait here, in order.
    let early: Array<[number, Uint8Array]> | undefined = []
    const deliver = (channel: number, bytes: Uint8Array): void => {
      if (channel === CHANNEL.values) this.#onValue(peer, bytes)
      else this.#features.get(peer)?.get(channel)?.dispatch(bytes)
    }
    wire.on('message', (channel, bytes) => {
      if (early === undefined) deliver(channel, bytes)
      else early.push([channel, bytes])
    })
    wire.on('error', (error) => this.emit('error', error))
    wire.on('close', (reason) => {
      const left = reason ?? new PeerjectError('ERR_PEER_LEFT', `peer ${id} left`)
      peer.markClosed(left)
      for (const feature of this.#features.get(peer)?.values() ?? []) feature.close(left)
      this.#features.delete(peer)
      if (this.#peers.get(id) === peer) {
        this.#peers.delete(id)
        this.emit('leave', peer, reason)
      }
    })
    wire.ready.then(
      () => {
        if (this.#left || peer.state === 'closed') return
        const previous = this.#peers.get(id)
        previous?.wire.close(new PeerjectError('ERR_CLOSED', `peer ${id} reconnected`))
        const features = new Map(this.#init.features?.(peer) ?? [])
        features.set(CHANNEL.rpc, this.#createRpc(peer))
        const code = this.#init.code.session(peer.id, (bytes) =>
          peer.wire.sendMessage(CHANNEL.code, bytes),
        )
        peer.attachCode(code)
        features.set(CHANNEL.code, {
          dispatch: (bytes) => code.dispatch(bytes),
          close: (reason) => code.close(reason),
        })
        this.#features.set(peer, features)
        this.#peers.set(id, peer)
        this.emit('peer', peer)
        const waiting = early ?? []
        early = undefined
        for (const [channel, bytes] of waiting) deliver(channel, bytes)
      },
      (error: unknown) => {
        if (this.#left) return
        // The connector may dial again (the PeerJS adapter does when no HELLO came): then an `open`
        // or a `failed` for this peer follows, and this attempt is not reported.
        if (
          error instanceof PeerjectError &&
          this.#connector.retry?.(id, transport, error) === true
        )
          return
        // Announced but never ready: an error and a leave, as for a connection that never opened.
        const reason = new PeerjectError('ERR_CONNECT', `the handshake with peer ${id} failed`, {
          cause: error,
        })
        this.emit('error', error instanceof PeerjectError ? error : reason)
        this.emit('leave', id, reason)
      },
    )
  }

  #createRpc(peer: Peer): FeatureSession {
    const rpc = new RpcSession({
      peer: peer.id,
      codec: this.#codec,
      exports: this.#exports,
      send: (bytes) => peer.wire.sendMessage(CHANNEL.rpc, bytes),
      streams: peer.rpcStreams(),
      onError: (error) => this.emit('error', error),
      // Like an undecodable value: the connection closes, and the ERROR frame tells the peer why.
      onViolation: (error) => peer.wire.close(error),
      maxMessageBytes: () => peer.wire.peerMaxMessageBytes,
      ...(this.#init.authorize === undefined ? {} : { authorize: this.#init.authorize }),
      ...(this.#init.rpcLimits === undefined ? {} : { limits: this.#init.rpcLimits }),
    })
    peer.attachRpc(rpc)
    return rpc
  }

  #onValue(peer: Peer, bytes: Uint8Array): void {
    let value: unknown
    let streams: ReadableStream<Uint8Array>[]
    try {
      ;({ value, streams } = peer.decodeValue(bytes))
    } catch (error) {
      const reason =
        error instanceof PeerjectError
          ? error
          : new PeerjectError('ERR_BAD_MESSAGE', 'undecodable value', { cause: error })
      this.emit('error', reason)
      peer.wire.close(reason)
      return
    }
    this.#deliveringBytes = bytes.byteLength
    const heard = this.emit('message', value, peer)
    this.#deliveringBytes = 0
    if (heard || streams.length === 0) return
    // Nobody listens (no 'message' listener, no messages() loop): nobody will ever read these
    // streams. Cancel them, so the sender learns it and no stream slot stays held.
    const reason = new PeerjectError(
      'ERR_CLOSED',
      `peer ${this.self} has no 'message' listener in room "${this.name}"; the value's streams were cancelled`,
    )
    for (const stream of streams) void stream.cancel(reason).catch(() => undefined)
  }
}

/** A peer's part of a broadcast that failed before sending (see `Room.broadcast`). */
class Failed {
  constructor(readonly error: unknown) {}
}

function attempt(prepare: () => PreparedValue): PreparedValue | Failed {
  try {
    return prepare()
  } catch (error) {
    return new Failed(error)
  }
}
