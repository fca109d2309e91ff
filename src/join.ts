/**
 * `joinRoom` without the platform: validates options, picks the connector (peerject's signaling
 * server, or a PeerServer through the PeerJS adapter), joins, and assembles the room.
 */
import { CodeService } from './code/index.js'
import type { CodeLimits, CodeStore, TrustedKey, VerifyToken, WorkerHost } from './code/index.js'
import { ClassRegistry, Codec } from './codec/index.js'
import type { Connector } from './connector.js'
import { PeerjectError } from './errors.js'
import { createMeshConnector } from './mesh.js'
import type { Platform } from './platform.js'
import { Room } from './room.js'
import type { FeatureFactory } from './room.js'
import type { Authorizer, RpcLimits } from './rpc/index.js'
import type { WireLimits } from './wire/index.js'

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
   * optional `listMetadata`), sync or async. Default: IndexedDB in browsers (memory when absent),
   * a directory in Node (`directory`).
   */
  readonly store?: CodeStore
  /** Node: directory of the default store. Default `<os tmpdir>/peerject-code`. */
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

/** Options of `joinRoom`. */
export interface JoinOptions {
  /** The room to join. Peers in the same room connect to each other. */
  readonly room: string
  /** URL of peerject's signaling server, e.g. `ws://localhost:8787`. Required unless `peerjs`. */
  readonly signaling?: string
  /** Passed to the signaling server's `verifyToken` (or checked as a JWT). */
  readonly token?: string
  /** Join through a PeerServer instead of peerject's signaling server. */
  readonly peerjs?: PeerJsServerOptions
  /** RTCPeerConnection configuration (ICE servers). Default: none (host candidates only). */
  readonly rtcConfig?: RTCConfiguration
  /** A connection that does not open in this time fails with ERR_CONNECT. Default 20 s. */
  readonly connectTimeoutMs?: number
  /** Receiver limits: wire (docs/protocol.md) and references (docs/rpc.md), with documented defaults. */
  readonly limits?: Partial<WireLimits> & Partial<RpcLimits>
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
  if (typeof options.room !== 'string' || options.room.length === 0) {
    throw new PeerjectError(
      'ERR_BAD_MESSAGE',
      'joinRoom needs a room name: joinRoom({ room: "demo", … })',
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
      throw new PeerjectError(
        'ERR_SIGNALING',
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
    ...(options.limits === undefined
      ? {}
      : { wireLimits: options.limits, rpcLimits: options.limits }),
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
