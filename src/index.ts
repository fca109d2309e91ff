/**
 * peerject for browsers: `joinRoom` with the browser's own WebRTC and WebSocket.
 * Node peers import the same API from `peerject/node`.
 */
import { BrowserWorkerHost, createIndexedDbStore } from './code/index.js'
import { join } from './join.js'
import type { JoinOptions } from './join.js'
import type { Platform } from './platform.js'
import type { Room } from './room.js'
import { PeerjectError } from './errors.js'

export { ClassRegistry, markByReference, isMarkedByReference, BY_REFERENCE } from './codec/index.js'
export type { ClassConstructor, RegisterOptions } from './codec/index.js'
export type { ErrorCode, PeerjectErrorOptions } from './errors.js'
export { ERROR_CODES, PeerjectError, isPeerjectError } from './errors.js'
export type { PeerId } from './ids.js'
export type { CodeOptions, JoinOptions, PeerJsServerOptions, RoomLimits } from './join.js'
export {
  createIndexedDbStore,
  createMemoryStore,
  exportPublicKey,
  generateSigningKey,
  signCodeId,
} from './code/index.js'
export type {
  CodeId,
  CodeLimits,
  CodeMetadata,
  CodeStore,
  FetchOptions,
  FetchedCode,
  PublishOptions,
  RunOptions,
  RunningCode,
  TrustedKey,
  VerifyToken,
} from './code/index.js'
export type { Peer, PeerCode, PeerSendOptions } from './peer.js'
export type { PeerMap, Room, RoomCode, RoomEvents, RoomMessage } from './room.js'
export type { WireLimits } from './wire/index.js'
export {
  RpcTarget,
  defaultAuthorizer,
  isStub,
  release,
  remove,
  set,
  withOptions,
} from './rpc/index.js'
export type {
  Authorizer,
  Local,
  Operation,
  Path,
  PathKey,
  PathOrigin,
  Remote,
  RpcLimits,
  RpcStats,
} from './rpc/index.js'

/**
 * What a page that sets its own Content-Security-Policy must add for code objects to run: the
 * sources to merge into its `script-src` (the sandbox's inline script by hash, `data:`, `blob:`)
 * and `worker-src` (`data:`). Pages without a CSP of their own need nothing. docs/security.md.
 */
export function codeObjectCsp(): Promise<{
  readonly scriptSrc: string
  readonly workerSrc: string
}> {
  return BrowserWorkerHost.requiredCsp()
}

/** Browsers cap one data channel message at 256 KiB (Chrome); the wire never sends more. */
const BROWSER_MAX_MESSAGE = 256 * 1024

function browserPlatform(): Platform {
  const g = globalThis as Partial<typeof globalThis>
  if (g.RTCPeerConnection === undefined || g.WebSocket === undefined) {
    throw new PeerjectError(
      'ERR_CONNECT',
      'this environment has no RTCPeerConnection/WebSocket; in Node import { joinRoom } from "peerject/node"',
    )
  }
  return {
    name: 'browser',
    webrtc: {
      RTCPeerConnection: g.RTCPeerConnection,
      RTCSessionDescription: g.RTCSessionDescription ?? RTCSessionDescription,
      RTCIceCandidate: g.RTCIceCandidate ?? RTCIceCandidate,
    },
    WebSocket: g.WebSocket,
    maxChannelMessageSize: BROWSER_MAX_MESSAGE,
  }
}

/**
 * Joins a room: connects to the signaling server (or a PeerServer), then to every peer in the room.
 * Resolves once joined; peers arrive as `peer` events.
 *
 * @example
 * const room = await joinRoom({ signaling: 'ws://localhost:8787', room: 'demo' })
 * room.on('peer', (peer) => peer.send({ hello: 'world' }))
 * room.on('message', (value, from) => console.log(from.id, value))
 */
export async function joinRoom(options: JoinOptions): Promise<Room> {
  return join(options, {
    platform: browserPlatform(),
    codeRuntime: async (code) => ({
      host: new BrowserWorkerHost(),
      store: code.store ?? createIndexedDbStore(),
    }),
  })
}
