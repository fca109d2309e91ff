/**
 * `joinRoom` without the platform: validates options, picks the connector (peerject's signaling
 * server, or a PeerServer through the PeerJS adapter), joins, and assembles the room.
 */
import { checkCodeOptions, CodeService } from './code/index.js'
import type { CodeLimits, CodeStore, TrustedKey, VerifyToken, WorkerHost } from './code/index.js'
import { ClassRegistry, Codec } from './codec/index.js'
import type { Connector } from './connector.js'
import { createMeshConnector } from './mesh.js'
import type { Platform } from './platform.js'
import { Room } from './room.js'
import type { FeatureFactory } from './room.js'
import type { Authorizer, RpcLimits } from './rpc/index.js'
import { DEFAULT_RPC_LIMITS, resolveLimits } from './rpc/limits.js'
import type { WireLimits } from './wire/index.js'
import { DEFAULT_WIRE_LIMITS, resolveWireLimits } from './wire/limits.js'

/** Where a PeerServer runs (PeerJS adapter; see docs/peerjs.md). */
export interface PeerJsServerOptions {
  readonly host: string
  readonly port: number
  readonly path?: string
  readonly key?: string
  readonly secure?: boolean
}

/** Code objects: where they are kept, who may fetch them, which signatures are required. */
export interface CodeOptions {
  /**
   * Store hooks (`getObject`, `getMetadata`, `registerObject`, `registerMetadata`, `removeObject`,
   * optional `listMetadata`), sync or async. Default: IndexedDB in browsers (memory when absent);
   * in Node, memory, or a directory with `directory`.
   */
  readonly store?: CodeStore
  /**
   * Node: keep code objects in this directory (`<id>.js` + `<id>.json`), across restarts. Default:
   * none, a memory store. Give each app its own: everything in it is listed and served to peers.
   */
  readonly directory?: string
  /** Screens every request: `(token, id, peer) => boolean`, sync or async. Default: allow. */
  readonly verifyToken?: VerifyToken
  /** When non-empty, fetch and run require a signature by one of these keys (ERR_SIGNATURE). */
  readonly trustedKeys?: readonly TrustedKey[]
  /** When set, `room.code.publish` signs each id with it (ECDSA P-256). */
  readonly signingKey?: CryptoKeyPair
  /** Receiver-side limits (request timeout, requests in flight, source size, modules). */
  readonly limits?: CodeLimits
  /** Node: keep one worker thread started ahead of time (faster first run). Default false. */
  readonly prewarm?: boolean
}

/** Every limit `joinRoom({ limits })` takes. */
export type RoomLimits = Partial<WireLimits> &
  Partial<RpcLimits> & { readonly maxDepth?: number; readonly maxDecodedBytes?: number }

/** Options of `joinRoom`. */
export interface JoinOptions {
  /** The room to join. Peers in the same room connect to each other. */
  readonly room: string
  /**
   * URL of peerject's signaling server, e.g. `ws://localhost:8787`. Required unless `peerjs`; not
   * both (TypeError).
   */
  readonly signaling?: string
  /** Passed to the signaling server's `verifyToken` (or checked as a JWT). Not with `peerjs`. */
  readonly token?: string
  /** Join through a PeerServer instead of peerject's signaling server. */
  readonly peerjs?: PeerJsServerOptions
  /** RTCPeerConnection configuration (ICE servers). Default: none (host candidates only). */
  readonly rtcConfig?: RTCConfiguration
  /**
   * A connection that does not open in this time fails with ERR_CONNECT. Default 20 s (15 s with
   * `peerjs`).
   */
  readonly connectTimeoutMs?: number
  /**
   * Receiver limits: wire (docs/protocol.md), references (docs/rpc.md) and the codec's `maxDepth`
   * (nesting of values, default 256), with documented defaults. Checked by `joinRoom`: an unknown
   * name or a value out of range rejects with a RangeError naming it.
   */
  readonly limits?: RoomLimits
  /**
   * Screens what other peers may do with your exposed objects: called with (peer, operation, path),
   * sync or async. Default: names starting with `_` are denied. `__proto__`, `constructor`,
   * `prototype` and symbols are never reachable whatever it returns.
   */
  readonly authorize?: Authorizer
  /** Classes whose instances cross as themselves. Both sides register the same names. */
  readonly classes?: ClassRegistry
  /** Send error stacks to other peers (off by default: stacks leak file paths). */
  readonly includeStacks?: boolean
  /** Code objects (see docs/code-objects.md). */
  readonly code?: CodeOptions
}

/** @internal What an entry point adds: the platform and the features. */
export interface JoinContext {
  readonly platform: Platform
  /** Worker host and default store of this platform. */
  readonly codeRuntime: (options: CodeOptions) => Promise<{
    readonly host: WorkerHost
    readonly store: CodeStore
    readonly close?: () => void
  }>
  readonly features?: (codec: Codec) => FeatureFactory
}

/** @internal Shared implementation of the entry points' `joinRoom`. */
export async function join(options: JoinOptions, context: JoinContext): Promise<Room> {
  // Wrong options are programming errors: TypeError / RangeError, like the limits' checks.
  if (typeof options.room !== 'string' || options.room.length === 0) {
    throw new TypeError('joinRoom needs a room name: joinRoom({ room: "demo", … })')
  }
  if (options.peerjs !== undefined && options.signaling !== undefined) {
    throw new TypeError(
      'joinRoom takes either signaling (a peerject signaling server) or peerjs (a PeerServer), not both',
    )
  }
  if (options.peerjs !== undefined && options.token !== undefined) {
    throw new TypeError(
      'joinRoom: token is for a peerject signaling server; a PeerServer is joined with peerjs: { key, … }',
    )
  }
  const limits = splitLimits(options.limits)
  checkCodeOptions(options.code ?? {})
  if (
    options.connectTimeoutMs !== undefined &&
    !(Number.isFinite(options.connectTimeoutMs) && options.connectTimeoutMs > 0)
  ) {
    throw new RangeError(
      `joinRoom: connectTimeoutMs must be a positive number of milliseconds, got ${String(options.connectTimeoutMs)}`,
    )
  }
  let connector: Connector
  if (options.peerjs !== undefined) {
    const { createPeerJsConnector } = await import('./transport/peerjs.js')
    connector = createPeerJsConnector({
      room: options.room,
      platform: context.platform,
      peerjs: {
        ...options.peerjs,
        ...(options.rtcConfig === undefined ? {} : { config: options.rtcConfig }),
      },
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.connectTimeoutMs }),
    })
  } else {
    if (typeof options.signaling !== 'string') {
      throw new TypeError(
        'joinRoom needs a signaling server URL: joinRoom({ signaling: "ws://localhost:8787", room }) — or a PeerServer: joinRoom({ peerjs: { host, port } })',
      )
    }
    connector = createMeshConnector({
      signaling: options.signaling,
      room: options.room,
      platform: context.platform,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.rtcConfig === undefined ? {} : { rtcConfig: options.rtcConfig }),
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.connectTimeoutMs }),
    })
  }
  const classes = options.classes ?? new ClassRegistry()
  const codec = new Codec({
    classes,
    ...(limits.maxDepth === undefined ? {} : { maxDepth: limits.maxDepth }),
    ...(limits.maxDecodedBytes === undefined ? {} : { maxDecodedBytes: limits.maxDecodedBytes }),
    ...(options.includeStacks === undefined ? {} : { includeStacks: options.includeStacks }),
  })
  const codeOptions = options.code ?? {}
  const runtime = await context.codeRuntime(codeOptions)
  const code = new CodeService({
    codec,
    host: runtime.host,
    store: codeOptions.store ?? runtime.store,
    ...(codeOptions.verifyToken === undefined ? {} : { verifyToken: codeOptions.verifyToken }),
    ...(codeOptions.trustedKeys === undefined ? {} : { trustedKeys: codeOptions.trustedKeys }),
    ...(codeOptions.signingKey === undefined ? {} : { signingKey: codeOptions.signingKey }),
    ...(codeOptions.limits === undefined ? {} : { limits: codeOptions.limits }),
  })
  const room = new Room({
    name: options.room,
    connector,
    codec,
    classes,
    code,
    ...(runtime.close === undefined ? {} : { onLeave: runtime.close }),
    wireLimits: limits.wire,
    rpcLimits: limits.rpc,
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    ...(context.features === undefined ? {} : { features: context.features(codec) }),
  })
  try {
    await connector.start()
  } catch (error) {
    room.leave()
    throw error
  }
  return room
}

/**
 * `joinRoom`'s limits, checked now (a bad one would otherwise fail every connection later) and
 * split by layer. Throws a RangeError naming an unknown limit or a value out of range.
 */
function splitLimits(limits: RoomLimits | undefined): {
  readonly wire: Partial<WireLimits>
  readonly rpc: Partial<RpcLimits>
  readonly maxDepth: number | undefined
  readonly maxDecodedBytes: number | undefined
} {
  const wire: Record<string, unknown> = {}
  const rpc: Record<string, unknown> = {}
  let maxDepth: number | undefined
  let maxDecodedBytes: number | undefined
  if (limits !== undefined) {
    if (typeof limits !== 'object' || limits === null) {
      throw new RangeError('joinRoom: limits must be an object, e.g. { maxMessageBytes: 1e8 }')
    }
    for (const [key, value] of Object.entries(limits)) {
      if (value === undefined) continue
      if (Object.hasOwn(DEFAULT_WIRE_LIMITS, key)) wire[key] = value
      else if (Object.hasOwn(DEFAULT_RPC_LIMITS, key)) rpc[key] = value
      else if (key === 'maxDepth') {
        if (!Number.isInteger(value) || (value as number) < 1) {
          throw new RangeError(
            `joinRoom: limits.maxDepth must be a positive integer, got ${String(value)}`,
          )
        }
        maxDepth = value as number
      } else if (key === 'maxDecodedBytes') {
        if (!Number.isInteger(value) || (value as number) < 1) {
          throw new RangeError(
            `joinRoom: limits.maxDecodedBytes must be a positive integer, got ${String(value)}`,
          )
        }
        maxDecodedBytes = value as number
      } else {
        const known = [
          ...Object.keys(DEFAULT_WIRE_LIMITS),
          ...Object.keys(DEFAULT_RPC_LIMITS),
          'maxDepth',
          'maxDecodedBytes',
        ]
        throw new RangeError(`joinRoom: unknown limit "${key}"; the limits are ${known.join(', ')}`)
      }
    }
  }
  resolveWireLimits(wire)
  resolveLimits(rpc)
  return { wire, rpc, maxDepth, maxDecodedBytes }
}
