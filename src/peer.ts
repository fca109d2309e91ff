/**
 * A remote peer in a room, as seen from here: send it values and byte streams, and (through the
 * feature sessions the room attaches) use its exposed references and code objects.
 *
 * Channels on the wire: 0 = values (this file), 1 = references (`rpc/`), 2 = code objects (`code/`).
 */
import type { CodePeerSession } from './code/index.js'
import type { Codec, ExternalHooks } from './codec/index.js'
import { PeerjectError } from './errors.js'
import type { PeerId } from './ids.js'
import type { Remote, RpcSession, RpcStats } from './rpc/index.js'
import { isAsyncIterable, iterableToStream, pumpStream } from './streams.js'
import { detachInto, transferSet } from './transfer.js'
import type { OutgoingStream, SendOptions, WireSession } from './wire/index.js'

/** Wire channel numbers of the features. */
export const CHANNEL = { values: 0, rpc: 1, code: 2 } as const

/** Options for {@link Peer.send}. */
export interface PeerSendOptions {
  /** Aborts the send: the promise rejects ERR_ABORTED and the receiver drops the partial message. */
  readonly signal?: AbortSignal
  /** Called with bytes handed to the channel so far and the total; monotonic, ends at 100%. */
  readonly onProgress?: (sentBytes: number, totalBytes: number) => void
  /**
   * ArrayBuffers to hand over instead of copying, like `postMessage`'s transfer list: they are
   * detached when `send` is called (`byteLength` 0 afterwards, here), and their bytes are sent
   * from where they are. Only ArrayBuffers can be listed (a SharedArrayBuffer cannot be detached:
   * ERR_UNSERIALIZABLE). Without it, `send` copies every binary of 64 KiB or more (small ones are
   * copied anyway), so the caller may change its buffers at once.
   */
  readonly transfer?: readonly ArrayBufferLike[]
}

/** @internal A value encoded for one peer, not sent yet (see {@link Peer.prepareValue}). */
export interface PreparedValue {
  readonly parts: Uint8Array[]
  readonly streams: readonly OpenedStream[]
  readonly options: PeerSendOptions
}

/** Another peer's code objects: its registry view, fetch (verified) and run (isolated). */
export type PeerCode = Pick<CodePeerSession, 'list' | 'fetch' | 'run'>

/** Internal: how the room delivers a decoded value. */
export type ValueSink = (value: unknown, from: Peer) => void

/** A connected remote peer. */
export class Peer {
  /** The peer's id in the room (assigned by the signaling server or the connector). */
  readonly id: PeerId
  /** @internal */
  readonly wire: WireSession
  readonly #codec: Codec
  #closed: PeerjectError | undefined
  #rpc: RpcSession | undefined
  #code: CodePeerSession | undefined
  /** The send whose value is being encoded (encoding is synchronous). */
  #encoding: EncodeContext | undefined

  /** @internal Created by the room when the peer's connection is ready. */
  constructor(id: PeerId, wire: WireSession, codec: Codec) {
    this.id = id
    this.wire = wire
    this.#codec = codec
  }

  /** @internal The room attaches the references session once the peer is ready. */
  attachRpc(rpc: RpcSession): void {
    this.#rpc = rpc
  }

  /** @internal The room attaches the code-objects session once the peer is ready. */
  attachCode(code: CodePeerSession): void {
    this.#code = code
  }

  /**
   * This peer's code objects: `await peer.code.list()` (what it serves),
   * `await peer.code.fetch(id, { token })` (verified, cached locally),
   * `await peer.code.run<Api>(id, { token, capabilities, timeoutMs, memoryMb })` (a Comlink remote
   * of the module's exports, running in an isolated worker). See docs/code-objects.md.
   */
  get code(): PeerCode {
    if (this.#code === undefined) {
      throw new PeerjectError(
        'ERR_CLOSED',
        `peer ${this.id} is not ready yet: wait for its "peer" event`,
      )
    }
    return this.#code
  }

  /** Names of the objects this peer exposes (`room.expose` on its side). */
  async list(): Promise<string[]> {
    return this.#requireRpc().list()
  }

  /**
   * A typed stub of the object this peer exposes as `name`, returned at once. Its `resolve`
   * message goes out now, and uses need not wait for its answer (pipelining): `await
   * counter.add(2)`, `await counter.value`, `counter.onChange = (v) => …`. A name that is not
   * exposed rejects ERR_NOT_FOUND on first use. See docs/rpc.md.
   */
  resolve<T>(name: string): Remote<T> {
    // After the peer left, its closed session hands out stubs whose operations reject with the
    // reason: resolve() still returns at once, as documented, and never throws for that.
    if (this.#closed !== undefined && this.#rpc !== undefined) return this.#rpc.resolve<T>(name)
    return this.#requireRpc().resolve<T>(name)
  }

  /** Counts for debugging: references held each way and calls in flight. */
  stats(): { readonly rpc: RpcStats | undefined } {
    return { rpc: this.#rpc?.stats() }
  }

  #requireRpc(): RpcSession {
    if (this.#closed !== undefined) throw this.#leftError()
    if (this.#rpc === undefined) {
      throw new PeerjectError(
        'ERR_CLOSED',
        `peer ${this.id} is not ready yet: wait for its "peer" event`,
      )
    }
    return this.#rpc
  }

  /** @internal Stream hooks for the references channel: streams start pumping at once. */
  rpcStreams(): { export(value: object, path: string): unknown; import(data: unknown): unknown } {
    return {
      export: (value) => {
        const out = this.wire.openStream(CHANNEL.rpc)
        pumpStream(value as ReadableStream<Uint8Array>, out).catch(() => undefined)
        return out.id
      },
      import: (data) => {
        if (typeof data !== 'number') throw new PeerjectError('ERR_BAD_MESSAGE', 'bad stream id')
        return this.wire.acceptStream(data)
      },
    }
  }

  /** `open` while connected; `closed` after the peer left or the room was left. */
  get state(): 'open' | 'closed' {
    return this.#closed === undefined ? 'open' : 'closed'
  }

  /**
   * Sends a value of any size (see "What can cross the wire" in the README). A `ReadableStream` of
   * `Uint8Array` (or an async iterable of them), alone or anywhere inside the value, crosses as a
   * byte stream with backpressure. Resolves when the last byte is handed to the channel (streams
   * included); rejects ERR_PEER_LEFT, ERR_ABORTED, ERR_TOO_LARGE or ERR_UNSERIALIZABLE.
   *
   * Values arrive in order of completion, not of sending: a small value sent while a large one is
   * in transit arrives first. Values that each fit one frame (256 KiB) keep their sending order.
   */
  async send(value: unknown, options: PeerSendOptions = {}): Promise<void> {
    const transfer = transferSet(options.transfer)
    const prepared = this.prepareValue(value, options, false, transfer)
    detachPrepared(transfer, [prepared])
    return this.sendPrepared(prepared)
  }

  /**
   * @internal The first half of `send` (and of each peer's part of `room.broadcast`, `shared`):
   * encodes `value` for this peer, synchronously, sending nothing. Large binaries whose buffer
   * is in `transfer` are left as views, for the caller to detach (src/transfer.ts). A byte stream
   * can be read only once, so a shared value must not contain one.
   */
  prepareValue(
    value: unknown,
    options: PeerSendOptions,
    shared: boolean,
    transfer?: ReadonlySet<ArrayBuffer>,
  ): PreparedValue {
    if (this.#closed !== undefined) throw this.#leftError()
    if (options.signal?.aborted === true) {
      throw new PeerjectError('ERR_ABORTED', 'the send was aborted before it started')
    }
    if (shared && isAsyncIterable(value)) throw broadcastStreamError('value')
    const root = isAsyncIterable(value) ? iterableToStream(value) : value
    // Encoding is synchronous: the hooks read this send's context while it runs.
    const context: EncodeContext = { shared, streams: [] }
    const outer = this.#encoding
    this.#encoding = context
    // Parts, so a large binary is framed from its snapshot without one more contiguous copy.
    try {
      const parts = this.#codec.encodeParts(root, this.#valueHooks, transfer ?? true)
      return { parts, streams: context.streams, options }
    } catch (error) {
      abortStreams(context.streams, error)
      throw error
    } finally {
      this.#encoding = outer
    }
  }

  /** @internal The second half of `send`: hands a prepared value to the wire. */
  async sendPrepared(prepared: PreparedValue): Promise<void> {
    const { parts, streams, options } = prepared
    // Values keep no order among themselves: each is delivered when its last byte arrives, so a
    // small value is never stuck behind a large one (docs/protocol.md, "Order").
    const wireOptions: SendOptions =
      options.signal === undefined && options.onProgress === undefined
        ? UNORDERED
        : {
            ordered: false,
            ...(options.signal === undefined ? {} : { signal: options.signal }),
            ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
          }
    try {
      await this.wire.sendMessage(CHANNEL.values, parts, wireOptions)
    } catch (error) {
      abortStreams(streams, error)
      throw error
    } finally {
      // Settled: the wire reads the parts no more (it framed copies of them).
      this.#codec.recycle(parts)
    }
    if (streams.length === 0) return
    const pumping = streams.map(({ source, out }) => pumpStream(source, out, options.signal))
    try {
      await Promise.all(pumping)
    } catch (error) {
      // One stream failed: the value is incomplete, so stop the others too.
      for (const { out } of streams) out.abort(asPeerjectError(error))
      await Promise.allSettled(pumping)
      throw error
    }
  }

  /** Streams found in a value: functions and references are refused (values only). */
  readonly #valueHooks: ExternalHooks = {
    export: (kind, exported, path) => {
      if (kind !== 'stream') {
        throw new PeerjectError(
          'ERR_UNSERIALIZABLE',
          `${path} is a ${kind === 'function' ? 'function' : 'by-reference object'}; peer.send carries values only: expose it with room.expose() and resolve it on the other side`,
        )
      }
      const context = this.#encoding
      if (context === undefined) throw new PeerjectError('ERR_INTERNAL', 'no send in progress')
      if (context.shared) throw broadcastStreamError(path)
      const out = this.wire.openStream(CHANNEL.values)
      // The codec classified it as a stream: a ReadableStream or an async iterable.
      context.streams.push({ source: exported as ByteSource, out })
      return out.id
    },
    import: () => undefined,
  }

  /** @internal Decodes one value message from this peer, with the byte streams it carries. */
  decodeValue(bytes: Uint8Array): { value: unknown; streams: ReadableStream<Uint8Array>[] } {
    const streams: ReadableStream<Uint8Array>[] = []
    this.#decoded = streams
    try {
      return { value: this.#codec.decode(bytes, this.#receivedHooks), streams }
    } catch (error) {
      // The value is dropped: so are the streams its decode accepted.
      for (const stream of streams) void stream.cancel(error).catch(() => undefined)
      throw error
    } finally {
      this.#decoded = undefined
      this.#decodedIds.clear()
    }
  }

  /** The byte streams accepted by the decode in progress (see `decodeValue`). */
  #decoded: ReadableStream<Uint8Array>[] | undefined
  /** Their ids: one value names each of its streams once. */
  readonly #decodedIds = new Set<number>()

  /** A value may carry byte streams (accepted here), never functions or references. */
  readonly #receivedHooks: ExternalHooks = {
    export: () => undefined,
    import: (kind, data) => {
      if (kind !== 'stream' || typeof data !== 'number') {
        throw new PeerjectError('ERR_BAD_MESSAGE', `a value message carried a ${kind} reference`)
      }
      // Checked before anything is built: a value naming a stream twice, or more streams than may
      // be open at once, is hostile (each name would otherwise cost an errored stream).
      if (this.#decodedIds.has(data)) {
        throw new PeerjectError('ERR_BAD_MESSAGE', `a value named stream ${data} twice`)
      }
      const max = this.wire.limits.maxStreams
      if (this.#decodedIds.size >= max) {
        throw new PeerjectError(
          'ERR_QUOTA',
          `a value carried more than maxStreams (${max}) byte streams`,
        )
      }
      this.#decodedIds.add(data)
      const stream = this.wire.acceptStream(data)
      this.#decoded?.push(stream)
      return stream
    },
  }

  /** @internal Marks the peer gone; later calls reject with ERR_PEER_LEFT. */
  markClosed(reason: PeerjectError): void {
    this.#closed ??= reason
  }

  #leftError(): PeerjectError {
    if (this.#closed?.code === 'ERR_CLOSED') {
      return new PeerjectError('ERR_CLOSED', 'you left the room; join again to talk to this peer', {
        cause: this.#closed,
      })
    }
    return new PeerjectError('ERR_PEER_LEFT', `peer ${this.id} has left the room`, {
      cause: this.#closed,
    })
  }
}

function broadcastStreamError(path: string): PeerjectError {
  return new PeerjectError(
    'ERR_UNSERIALIZABLE',
    `${path} is a byte stream; a stream can be read once, so room.broadcast cannot send it (even to a room of one peer, which may grow): send it to each peer with peer.send (tee() a ReadableStream to copy it)`,
  )
}

/** What crosses as a byte stream. */
type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<unknown>

/** A byte stream found in a value being sent, and the wire stream opened for it. */
interface OpenedStream {
  readonly source: ByteSource
  readonly out: OutgoingStream
}

/** One send's state while its value is encoded. */
interface EncodeContext {
  readonly shared: boolean
  readonly streams: OpenedStream[]
}

const UNORDERED: SendOptions = { ordered: false }

function asPeerjectError(error: unknown): PeerjectError {
  return error instanceof PeerjectError
    ? error
    : new PeerjectError('ERR_ABORTED', 'the send failed', { cause: error })
}

/** The streams opened for a value that will not be sent never start: end them, release sources. */
function abortStreams(streams: readonly OpenedStream[], error: unknown): void {
  const reason = asPeerjectError(error)
  for (const { source, out } of streams) {
    out.abort(reason)
    if (source instanceof ReadableStream) {
      if (!source.locked) source.cancel(reason).catch(() => undefined)
    } else {
      // An async iterable: let its `finally` blocks run.
      source[Symbol.asyncIterator]()
        .return?.(reason)
        ?.catch(() => undefined)
    }
  }
}

/**
 * @internal Detaches `transfer` (if any) once for values prepared for one peer (`send`) or
 * several (`room.broadcast`), re-pointing their parts. If it fails, their streams never start.
 */
export function detachPrepared(
  transfer: ReadonlySet<ArrayBuffer> | undefined,
  prepared: readonly PreparedValue[],
): void {
  if (transfer === undefined) return
  try {
    detachInto(
      transfer,
      prepared.map((each) => each.parts),
    )
  } catch (error) {
    for (const each of prepared) abortStreams(each.streams, error)
    throw error
  }
}
