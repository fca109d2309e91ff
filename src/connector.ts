/**
 * A connector finds the other peers of a room and opens one {@link Transport} to each of them.
 * Two exist: the default (peerject's signaling server + simple-peer, `src/mesh.ts`) and the PeerJS
 * adapter (a PeerServer + peerjs, `src/transport/peerjs.ts`). The room (`src/room.ts`) builds on this
 * interface alone and never learns which one it has.
 *
 * Contract:
 * - `start()` resolves once the connector has joined (own id known); it rejects with a coded error
 *   (`ERR_SIGNALING`, `ERR_DENIED`, `ERR_ROOM_FULL`, `ERR_CONNECT`) when joining fails.
 * - `open` fires once per remote peer whose transport is open. The transport is already usable; the
 *   room attaches its listener synchronously inside the event. Over a data channel, the side that
 *   did not create the channel holds what it sends until the creator's first message arrives
 *   (`ChannelTransport`'s `speaksSecond`): the creator must speak first, as the wire's HELLO does.
 * - `failed` fires for a peer that was announced but whose transport did not open in time
 *   (`ERR_CONNECT`), or was refused; there is then no `open` for it.
 * - A transport closing is reported by the transport itself (its listener's `close`), not here.
 * - `retry(peer, transport, error)` (optional) is the room saying that `transport`, given by `open`,
 *   never completed peerject's handshake. `true` means the connector takes care of it: a newer
 *   connection to `peer` already exists or is dialed now, and an `open` or `failed` follows (or
 *   nothing, if the peer leaves the room meanwhile); the room then reports nothing. `false` means
 *   the peer is lost (the room reports `ERR_CONNECT`). Both connectors implement it.
 * - `close()` closes every transport and leaves the room. Idempotent.
 */
import type { Emitter } from './emitter.js'
import type { PeerjectError } from './errors.js'
import type { PeerId } from './ids.js'
import type { Transport } from './transport/transport.js'

/**
 * How many times a connector replaces the connection to one peer after handshakes that failed
 * (`retry`), on each side: a peer cannot make another reconnect more often than that.
 */
export const MAX_REDIALS = 2

/** Events a connector emits. */
export type ConnectorEvents = {
  /** A transport to `peer` is open. */
  open: [peer: PeerId, transport: Transport]
  /** A connection to `peer` could not be established. */
  failed: [peer: PeerId, error: PeerjectError]
  /** The connector lost its link to the room (e.g. signaling closed); existing transports live on. */
  error: [error: PeerjectError]
}

/** Finds the room's peers and opens transports to them. */
export interface Connector extends Pick<Emitter<ConnectorEvents>, 'on' | 'off' | 'once'> {
  /** This peer's own id in the room (valid after `start()` resolves). */
  readonly self: PeerId
  /** Joins the room; resolves with the own id. */
  start(): Promise<PeerId>
  /**
   * The handshake over `transport` (given by `open` for `peer`) failed with `error`; true when the
   * connector replaces that connection (see the contract above). Connectors without it never retry.
   */
  retry?(peer: PeerId, transport: Transport, error: PeerjectError): boolean
  /** Leaves the room and closes every transport. */
  close(): void
}
