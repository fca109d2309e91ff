/**
 * The wire layer: frames over a transport (docs/protocol.md). The layer above sees opaque byte
 * messages tagged with a channel (0 = values, 1 = rpc, 2 = code objects, 3–255 reserved) and byte
 * streams.
 */
export { WireSession } from './session.js'
export type { WireEvents, WireSessionOptions } from './session.js'
export type { SendOptions } from './outgoing-message.js'
export type { OutgoingStream } from './outgoing-stream.js'
export { DEFAULT_WIRE_LIMITS, resolveWireLimits } from './limits.js'
export type { WireLimits } from './limits.js'
export { WIRE_VERSION, FRAME_KIND, isFrameKind } from './frame.js'
export { parseFrame } from './frame-parser.js'
export type { Frame, FrameKind } from './frame.js'
