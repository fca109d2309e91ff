/**
 * The signaling wire protocol, version 1: JSON text frames over one WebSocket per peer.
 * docs/signaling.md describes it message by message.
 *
 * Contract: `src/` imports only the *types* of this module (never its values), so the browser
 * bundle never pulls in valibot. The server validates every incoming frame with
 * {@link parseClientMessage}; the schemas of server messages exist for tests and for tools that
 * want to check a server's output.
 */
import * as v from 'valibot'

/** The protocol version the server announces in its `welcome` message. */
export const SIGNALING_PROTOCOL_VERSION = 1

/** Error codes the server sends in `error` messages (a subset of peerject's `ErrorCode`). */
export const SIGNALING_ERROR_CODES = [
  /** Not JSON, not an object, unknown `type`, a missing or mistyped field, or an invalid request. */
  'ERR_BAD_MESSAGE',
  /** The frame exceeds `maxMessageBytes`; the server closes the connection (1009) after it. */
  'ERR_TOO_LARGE',
  /** More messages than `messagesPerSecond`/`burst` allow; the message was dropped. */
  'ERR_RATE_LIMITED',
  /** The room already holds `maxPeersPerRoom` peers. */
  'ERR_ROOM_FULL',
  /** The token was refused (`verifyToken` or the JWT check); the peer did not join. */
  'ERR_DENIED',
  /** A per-connection or per-server quota (`maxRoomsPerConnection`, `maxConnections`). */
  'ERR_QUOTA',
  /**
   * A signal to a peer that is not in the room (it left while the signal was on its way, the
   * common case in a room with churn); `peer` names it. Not a fault of the sender.
   */
  'ERR_PEER_LEFT',
] as const

/** One of {@link SIGNALING_ERROR_CODES}. */
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number]

/** Client → server: join `room`, presenting `token` when the server requires one. */
export interface JoinMessage {
  readonly type: 'join'
  readonly room: string
  readonly token?: string
}

/** Client → server: leave `room` (a no-op when not in it). */
export interface LeaveMessage {
  readonly type: 'leave'
  readonly room: string
}

/**
 * Client → server: relay `data` (an offer, answer or candidate) to peer `to`. Both peers must be
 * in `room`, and the sender must have joined it; otherwise the server answers `ERR_BAD_MESSAGE`.
 */
export interface ClientSignalMessage {
  readonly type: 'signal'
  readonly room: string
  readonly to: string
  readonly data: unknown
}

/** Every message a client may send. */
export type ClientMessage = JoinMessage | LeaveMessage | ClientSignalMessage

/** Server → client, first message of every connection: the peer's id for this connection. */
export interface WelcomeMessage {
  readonly type: 'welcome'
  readonly id: string
  readonly version: typeof SIGNALING_PROTOCOL_VERSION
}

/** Server → client, reply to `join`: the other peers already in the room. */
export interface JoinedMessage {
  readonly type: 'joined'
  readonly room: string
  readonly peers: readonly string[]
}

/** Server → the other peers of a room: `peer` joined it. */
export interface PeerJoinedMessage {
  readonly type: 'peer-joined'
  readonly room: string
  readonly peer: string
}

/** Server → the other peers of a room: `peer` left it (leave, closed socket or dead socket). */
export interface PeerLeftMessage {
  readonly type: 'peer-left'
  readonly room: string
  readonly peer: string
}

/** Server → client: `data` relayed from peer `from` in `room`. */
export interface ServerSignalMessage {
  readonly type: 'signal'
  readonly room: string
  readonly from: string
  readonly data: unknown
}

/** Server → client: a request failed or a limit was hit; `message` says what to do. */
export interface ErrorMessage {
  readonly type: 'error'
  readonly code: SignalingErrorCode
  readonly message: string
  readonly room?: string
  /** With `ERR_PEER_LEFT`: the peer the refused signal was for. */
  readonly peer?: string
}

/** Every message the server may send. */
export type ServerMessage =
  | WelcomeMessage
  | JoinedMessage
  | PeerJoinedMessage
  | PeerLeftMessage
  | ServerSignalMessage
  | ErrorMessage

/** Longest peer id accepted in `to` (server ids are 36-character UUIDs). */
const MAX_PEER_ID_LENGTH = 128

/**
 * Deepest nesting accepted in a signal's `data` (session descriptions and ICE candidates are two
 * or three levels deep). Deeper data would overflow the stack when it is forwarded as JSON.
 */
export const MAX_SIGNAL_DATA_DEPTH = 32

/**
 * Most values (objects, arrays and leaves) in a signal's `data`: a session description or an ICE
 * candidate has a handful. Validating and forwarding each costs the server time, so a message
 * within `maxMessageBytes` but made of thousands of tiny values is refused.
 */
export const MAX_SIGNAL_DATA_VALUES = 1000

const roomName = v.pipe(v.string(), v.minLength(1, 'must be a non-empty string'))
const peerId = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_PEER_ID_LENGTH))
const signalData = v.pipe(
  v.unknown(),
  v.check(
    (value) => shapeWithin(value, MAX_SIGNAL_DATA_DEPTH, MAX_SIGNAL_DATA_VALUES),
    `is nested deeper than ${MAX_SIGNAL_DATA_DEPTH} levels or holds more than ${MAX_SIGNAL_DATA_VALUES} values`,
  ),
)

/**
 * True when `value` (parsed JSON) nests at most `maxDepth` arrays/objects deep and holds at most
 * `maxValues` values in all. No recursion.
 */
function shapeWithin(value: unknown, maxDepth: number, maxValues: number): boolean {
  const items: unknown[] = [value]
  const depths: number[] = [0]
  let seen = 0
  while (items.length > 0) {
    const item = items.pop()
    const depth = depths.pop() as number
    if (++seen > maxValues) return false
    if (typeof item !== 'object' || item === null) continue
    if (depth >= maxDepth) return false
    for (const child of Object.values(item)) {
      items.push(child)
      depths.push(depth + 1)
    }
  }
  return true
}

/** Schema of {@link ClientMessage}. Its output holds only the listed fields (nothing else is kept). */
export const ClientMessageSchema: v.GenericSchema<unknown, ClientMessage> = v.variant('type', [
  v.object({ type: v.literal('join'), room: roomName, token: v.exactOptional(v.string()) }),
  v.object({ type: v.literal('leave'), room: roomName }),
  v.object({ type: v.literal('signal'), room: roomName, to: peerId, data: signalData }),
])

/**
 * Schema of {@link ServerMessage}, for tests and tools that check a server's output. Strict: a
 * field outside the protocol fails validation.
 */
export const ServerMessageSchema: v.GenericSchema<unknown, ServerMessage> = v.variant('type', [
  v.strictObject({
    type: v.literal('welcome'),
    id: v.string(),
    version: v.literal(SIGNALING_PROTOCOL_VERSION),
  }),
  v.strictObject({ type: v.literal('joined'), room: v.string(), peers: v.array(v.string()) }),
  v.strictObject({ type: v.literal('peer-joined'), room: v.string(), peer: v.string() }),
  v.strictObject({ type: v.literal('peer-left'), room: v.string(), peer: v.string() }),
  v.strictObject({
    type: v.literal('signal'),
    room: v.string(),
    from: v.string(),
    data: v.unknown(),
  }),
  v.strictObject({
    type: v.literal('error'),
    code: v.picklist(SIGNALING_ERROR_CODES),
    message: v.string(),
    room: v.exactOptional(v.string()),
    peer: v.exactOptional(v.string()),
  }),
])

/** Result of {@link parseClientMessage}: the validated message, or why the frame was refused. */
export type ParseClientMessageResult =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly reason: string }

const CLIENT_TYPES = ['join', 'leave', 'signal'] as const

/**
 * Parses and validates one text frame. Never throws. The returned message is a fresh object built
 * by the schema (only known fields, own properties), so nothing from the frame's prototype chain
 * or extra keys reaches the server's logic; `data` is kept as parsed and only re-serialized.
 */
export function parseClientMessage(text: string): ParseClientMessageResult {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'message is not valid JSON; send one JSON object per text frame' }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'message must be a JSON object with a "type" field' }
  }
  const type: unknown = (json as { type?: unknown }).type
  if (typeof type !== 'string' || !(CLIENT_TYPES as readonly string[]).includes(type)) {
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 32)) : typeof type
    return {
      ok: false,
      reason: `unknown message type ${shown}; expected one of ${CLIENT_TYPES.join(', ')} (protocol version ${SIGNALING_PROTOCOL_VERSION})`,
    }
  }
  const result = v.safeParse(ClientMessageSchema, json, { abortEarly: true })
  if (result.success) return { ok: true, message: result.output }
  const issue = result.issues[0]
  const path = v.getDotPath(issue) ?? 'message'
  return {
    ok: false,
    reason: `invalid "${type}" message: field "${path}" ${describeIssue(issue)}`,
  }
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema' && issue.received === 'undefined') return 'is missing'
  if (issue.expected !== null) return `expected ${issue.expected}, received ${issue.received}`
  return issue.message
}
