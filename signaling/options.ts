/** Options, events and the handle of the signaling server (types only). */
import type { Server } from 'node:http'
import type { SignalingLimits } from './limits.js'
import type { SignalingErrorCode } from './protocol.js'

/**
 * Admission check for a join: return (or resolve) true to let the peer in. `token` is what the
 * client sent in its `join` message (undefined when it sent none). A throw or rejection counts as
 * a refusal (`ERR_DENIED`) and is reported to the logger as a `verify-error` event.
 */
export type VerifyToken = (token: string | undefined, room: string) => boolean | Promise<boolean>

/**
 * Built-in JWT admission: the token must be an HS256 JWT signed with `secret`, not expired, with
 * the given issuer and audience when set, and a `room` claim equal to the room or `'*'`.
 */
export interface SignalingJwtOptions {
  /** The HMAC secret (a string is UTF-8 encoded). */
  readonly secret: string | Uint8Array
  /** Required `iss` claim, when set. */
  readonly issuer?: string
  /** Required `aud` claim, when set. */
  readonly audience?: string
}

/** Something the server did or refused, reported to {@link SignalingServerOptions.logger}. */
export type SignalingLogEvent =
  | { readonly type: 'listening'; readonly url: string }
  | { readonly type: 'connect'; readonly peer: string; readonly address: string | undefined }
  | {
      readonly type: 'disconnect'
      readonly peer: string
      readonly code: number
      readonly reason: string
    }
  | { readonly type: 'join'; readonly peer: string; readonly room: string }
  | { readonly type: 'leave'; readonly peer: string; readonly room: string }
  | {
      /** An `error` message sent to a client. */
      readonly type: 'reject'
      readonly peer: string
      readonly code: SignalingErrorCode
      readonly message: string
      readonly room?: string
    }
  | { readonly type: 'dead'; readonly peer: string }
  | { readonly type: 'slow-consumer'; readonly peer: string; readonly bufferedBytes: number }
  | { readonly type: 'socket-error'; readonly peer: string; readonly error: Error }
  | {
      readonly type: 'verify-error'
      readonly peer: string
      readonly room: string
      readonly error: unknown
    }
  | { readonly type: 'closed' }

/** Options of {@link createSignalingServer}. */
export interface SignalingServerOptions {
  /** TCP port. Default 8787; 0 picks a free port (read it from {@link SignalingServer.port}). */
  readonly port?: number
  /** Interface to listen on. Default `'127.0.0.1'` (loopback only; use `'0.0.0.0'` to expose). */
  readonly host?: string
  /** Custom admission check; when both this and {@link jwt} are set, both must pass. */
  readonly verifyToken?: VerifyToken
  /** Built-in HS256 JWT admission; see {@link SignalingJwtOptions}. */
  readonly jwt?: SignalingJwtOptions
  /** Overrides of the default limits (see {@link SignalingLimits} and docs/signaling.md). */
  readonly limits?: Partial<SignalingLimits>
  /**
   * Interval of WebSocket pings, in ms. Default 15000. A socket that has not answered the previous
   * ping when the next is due is terminated and announced as left to its rooms.
   */
  readonly heartbeatMs?: number
  /** Receives every {@link SignalingLogEvent}. A logger that throws is ignored. */
  readonly logger?: (event: SignalingLogEvent) => void
}

/** Counts reported by {@link SignalingServer.stats} and `GET /health`. */
export interface SignalingStats {
  /** Rooms with at least one peer. */
  readonly rooms: number
  /** Open, admitted connections (one peer id each). */
  readonly peers: number
}

/** A running signaling server, returned by {@link createSignalingServer}. */
export interface SignalingServer {
  /** The port it listens on (the real one when started with port 0). */
  readonly port: number
  /** `ws://host:port`, for clients. */
  readonly url: string
  /** The underlying HTTP server (serves `GET /health` and the WebSocket upgrades). */
  readonly http: Server
  /** Current counts. */
  stats(): SignalingStats
  /**
   * Stops accepting connections, closes every socket with 1001 (terminating those that do not
   * finish the closing handshake within 3 s) and resolves when all are gone. Idempotent.
   */
  close(): Promise<void>
}
