/**
 * Two rpc sessions connected in memory, for tests and examples: each side's `send` delivers the
 * bytes to the other side's `dispatch` asynchronously (after `latencyMs`, in order), and every
 * message is recorded in `log`, decoded for reading (references appear as `{ ref: kind, data }`).
 */
import { Codec, type CodecOptions } from '../codec/index.js'
import { PeerjectError } from '../errors.js'
import type { Authorizer } from './authorizer.js'
import { ExportRegistry } from './export-registry.js'
import type { FinalizerFactory } from './importer.js'
import type { RpcLimits } from './limits.js'
import { isBatch } from './outbox.js'
import { RpcSession } from './session.js'

/** One recorded message. */
export interface LoggedMessage {
  /** Which side sent it. */
  readonly from: string
  /** The message, decoded without stubs: references read `{ ref: 'function', data: ['e', -1] }`. */
  readonly message: unknown
  /** When it was sent (performance.now()). */
  readonly at: number
  /** How many messages shared its send, when it was part of a batch. */
  readonly batch?: number
}

/** Options of one side of a {@link createMemoryPair}. */
export interface MemorySideOptions {
  /** Peer id of this side (default 'a' / 'b'). */
  readonly id?: string
  /** This side's named objects (default: a new registry). */
  readonly exports?: ExportRegistry
  readonly authorize?: Authorizer
  readonly limits?: Partial<RpcLimits>
  readonly onError?: (error: PeerjectError) => void
  readonly finalizer?: FinalizerFactory
  readonly codec?: CodecOptions
  /** The largest message this side may send (the other side's wire limit, in a room). */
  readonly maxMessageBytes?: number
}

/** Options of {@link createMemoryPair}. */
export interface MemoryPairOptions {
  readonly a?: MemorySideOptions
  readonly b?: MemorySideOptions
  /** One-way delivery delay in ms (default 0: next macrotask). */
  readonly latencyMs?: number
}

/** Two connected sessions: `a` talks to peer `b` and vice versa. */
export interface MemoryPair {
  /** Side a's session (its peer is b). */
  readonly a: RpcSession
  /** Side b's session (its peer is a). */
  readonly b: RpcSession
  /** Side a's named objects. */
  readonly exportsA: ExportRegistry
  /** Side b's named objects. */
  readonly exportsB: ExportRegistry
  /** Every message sent, in send order. */
  readonly log: LoggedMessage[]
  /** Delivers raw bytes to a side as if its peer had sent them (hostile-peer tests). */
  inject(to: 'a' | 'b', bytes: Uint8Array): void
  /** Resolves when no message is in transit (both directions drained). */
  settle(): Promise<void>
  /** Closes both sessions with ERR_PEER_LEFT. */
  close(): void
}

/** Creates two sessions connected in memory. */
export function createMemoryPair(options: MemoryPairOptions = {}): MemoryPair {
  const latencyMs = options.latencyMs ?? 0
  const log: LoggedMessage[] = []
  const idA = options.a?.id ?? 'a'
  const idB = options.b?.id ?? 'b'
  const exportsA = options.a?.exports ?? new ExportRegistry()
  const exportsB = options.b?.exports ?? new ExportRegistry()
  const logCodec = new Codec(options.a?.codec)
  let inTransit = 0
  let idle: Array<() => void> = []
  const delivered = (): void => {
    if (--inTransit === 0) for (const resolve of idle.splice(0)) resolve()
  }
  const sessions: { a?: RpcSession; b?: RpcSession } = {}
  const deliver = (to: 'a' | 'b', bytes: Uint8Array): void => {
    inTransit++
    setTimeout(() => {
      try {
        sessions[to]?.dispatch(bytes)
      } finally {
        delivered()
      }
    }, latencyMs)
  }
  const make = (side: 'a' | 'b', self: string, peer: string, opts: MemorySideOptions | undefined) =>
    new RpcSession({
      peer,
      codec: new Codec(opts?.codec),
      exports: side === 'a' ? exportsA : exportsB,
      send: (bytes) => {
        const copy = bytes.slice()
        const decoded = readable(logCodec, copy)
        const at = performance.now()
        // A batch (several messages in one send, docs/rpc.md "Batching") is logged message by
        // message; `batch` tells which ones shared a send.
        if (isBatch(decoded)) {
          for (const message of decoded)
            log.push({ from: self, message, at, batch: decoded.length })
        } else {
          log.push({ from: self, message: decoded, at })
        }
        deliver(side === 'a' ? 'b' : 'a', copy)
        return Promise.resolve()
      },
      ...(opts?.authorize === undefined ? {} : { authorize: opts.authorize }),
      ...(opts?.limits === undefined ? {} : { limits: opts.limits }),
      ...(opts?.onError === undefined ? {} : { onError: opts.onError }),
      ...(opts?.finalizer === undefined ? {} : { finalizer: opts.finalizer }),
      ...(opts?.maxMessageBytes === undefined
        ? {}
        : { maxMessageBytes: () => opts.maxMessageBytes }),
    })
  const a = make('a', idA, idB, options.a)
  const b = make('b', idB, idA, options.b)
  sessions.a = a
  sessions.b = b
  return {
    a,
    b,
    exportsA,
    exportsB,
    log,
    inject: (to, bytes) => deliver(to, bytes),
    settle: async () => {
      // Replies are produced after promise jobs; wait until the channel stays empty a macrotask.
      do {
        if (inTransit > 0) await new Promise<void>((resolve) => idle.push(resolve))
        await new Promise((resolve) => setTimeout(resolve, latencyMs))
      } while (inTransit > 0)
    },
    close: () => {
      const left = new PeerjectError('ERR_PEER_LEFT', 'the memory pair was closed')
      a.close(left)
      b.close(left)
      idle = []
    },
  }
}

/** Decodes a message for the log, showing references as plain data. */
function readable(codec: Codec, bytes: Uint8Array): unknown {
  try {
    return codec.decode(bytes, {
      export: () => undefined,
      import: (kind, data) => ({ ref: kind, data }),
    })
  } catch (error) {
    return { undecodable: String(error) }
  }
}
