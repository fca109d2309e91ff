/**
 * peerject's signaling server: `import { createSignalingServer } from 'peerject/signaling'`.
 * Node only (it listens on a TCP port); the CLI is `npx peerject-signaling`. See docs/signaling.md.
 */
export { createSignalingServer, DEFAULT_HEARTBEAT_MS, DEFAULT_SIGNALING_PORT } from './server.js'
export type {
  SignalingJwtOptions,
  SignalingLogEvent,
  SignalingServer,
  SignalingServerOptions,
  SignalingStats,
  VerifyToken,
} from './options.js'
export { DEFAULT_SIGNALING_LIMITS, resolveSignalingLimits } from './limits.js'
export type { SignalingLimits } from './limits.js'
export {
  ClientMessageSchema,
  parseClientMessage,
  ServerMessageSchema,
  SIGNALING_ERROR_CODES,
  SIGNALING_PROTOCOL_VERSION,
} from './protocol.js'
export type {
  ClientMessage,
  ClientSignalMessage,
  ErrorMessage,
  JoinedMessage,
  JoinMessage,
  LeaveMessage,
  ParseClientMessageResult,
  PeerJoinedMessage,
  PeerLeftMessage,
  ServerMessage,
  ServerSignalMessage,
  SignalingErrorCode,
  WelcomeMessage,
} from './protocol.js'
