/**
 * The default {@link Connector}: peerject's signaling server introduces the peers of a room and
 * simple-peer opens one data channel to each (a full mesh).
 *
 * No glare: for every pair, the peer whose id sorts first sends the offer; the other waits for it.
 * No ghosts: a peer that signaling reports as gone is closed at once (an ICE timeout would take
 * many seconds), and a connection that does not open in `connectTimeoutMs` is torn down and
 * reported as `failed` (ERR_CONNECT).
 *
 * Failed handshakes: a connection that opened, but over which peerject's handshake did not complete
 * (no HELLO within `helloTimeoutMs`, or the peer closed it first), is replaced by a new one when
 * the room asks (`retry`), up to {@link MAX_REDIALS} times per peer. The offering side starts the
 * new connection at once; the answering side asks it to (a `retry` signal). The other side lets
 * the new connection replace the one it holds, even if that one completed its handshake there (the
 * room then sees the peer leave and come back). docs/architecture.md, "Connection attempts".
 */
import { MAX_REDIALS } from './connector.js'
import type { ConnectorEvents, Connector } from './connector.js'
import { Emitter } from './emitter.js'
import { PeerjectError } from './errors.js'
import type { PeerId } from './ids.js'
import type { Platform } from './platform.js'
import { SignalingClient } from './signaling/client.js'
import { connectSimplePeer } from './transport/simple-peer.js'
import type { SimplePeerConnection } from './transport/simple-peer.js'
import type { Transport } from './transport/transport.js'

/** Options for {@link createMeshConnector}. */
export interface MeshOptions {
  readonly signaling: string
  readonly room: string
  readonly token?: string
  readonly rtcConfig?: RTCConfiguration
  readonly platform: Platform
  readonly connectTimeoutMs?: number
}

/** Default time for a peer's connection to open, all attempts included. */
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000

/** Shortest time one attempt gets before it counts as failed. */
const MIN_ATTEMPT_MS = 5_000

/**
 * Attempts per peer before a connection that keeps failing early is given up. Early failures
 * (libdatachannel's race, docs/architecture.md "Connection attempts") take milliseconds, so many
 * fit; the link's deadline still bounds them all.
 */
const MAX_ATTEMPTS = 8

/** Attempts that hang until their own timeout fit this many times in the link's deadline. */
const HANGING_ATTEMPTS = 3

/**
 * Signaling payload between two meshes: one attempt's simple-peer data, or (from the answering
 * side) a request to start a new attempt. `gen` numbers the attempts of one pair; only the offering
 * side starts a new one, so both sides always agree on the current attempt.
 */
type MeshSignal =
  { readonly gen: number; readonly data: unknown } | { readonly gen: number; readonly retry: true }

function parseMeshSignal(value: unknown): MeshSignal | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { gen } = value as { gen?: unknown }
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 1) return undefined
  if ((value as { retry?: unknown }).retry === true) return { gen, retry: true }
  return 'data' in value ? { gen, data: (value as { data: unknown }).data } : undefined
}

/** One pair's connection state on this side. */
interface Link {
  gen: number
  attempts: number
  connection: SimplePeerConnection | undefined
  readonly initiator: boolean
  readonly deadline: ReturnType<typeof setTimeout>
}

/** An open connection to a peer. */
interface OpenLink {
  readonly transport: Transport
  readonly connection: SimplePeerConnection
  /** The attempt that opened it. */
  readonly gen: number
}

class MeshConnector extends Emitter<ConnectorEvents> implements Connector {
  readonly #options: MeshOptions
  readonly #links = new Map<PeerId, Link>()
  /** Peers given up on (`failed` emitted): ignored until signaling reports them gone. */
  readonly #failed = new Set<PeerId>()
  /** Open connections replaced per peer (see `retry`), until signaling reports the peer gone. */
  readonly #redials = new Map<PeerId, number>()
  /**
   * Open connections: so a peer that signaling reports gone is closed at once, and so late
   * signals of the attempt that opened (trailing candidates) reach it instead of starting anew.
   */
  readonly #open = new Map<PeerId, OpenLink>()
  #client: SignalingClient | undefined
  #self: PeerId | undefined
  #closed = false

  constructor(options: MeshOptions) {
    super()
    this.#options = options
  }

  get self(): PeerId {
    if (this.#self === undefined)
      throw new PeerjectError('ERR_CLOSED', 'not joined yet: await start()')
    return this.#self
  }

  async start(): Promise<PeerId> {
    const { client, peers } = await SignalingClient.join({
      url: this.#options.signaling,
      room: this.#options.room,
      WebSocket: this.#options.platform.WebSocket,
      ...(this.#options.token === undefined ? {} : { token: this.#options.token }),
    })
    if (this.#closed) {
      client.close()
      throw new PeerjectError('ERR_CLOSED', 'the room was left while joining')
    }
    this.#client = client
    this.#self = client.self
    client.on('peer-joined', (peer) => this.#link(peer))
    client.on('peer-left', (peer) => this.#drop(peer))
    client.on('signal', (from, data) => this.#onSignal(from, data))
    client.on('error', (error) => this.emit('error', error))
    client.on('close', (reason) => {
      if (reason !== undefined) this.emit('error', reason)
    })
    for (const peer of peers) this.#link(peer)
    return client.self
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const link of this.#links.values()) {
      clearTimeout(link.deadline)
      link.connection?.destroy()
    }
    this.#links.clear()
    for (const { transport } of this.#open.values()) transport.close()
    this.#open.clear()
    this.#client?.close()
  }

  /** See the file comment ("Failed handshakes") and the {@link Connector} contract. */
  retry(peer: PeerId, transport: Transport, error: PeerjectError): boolean {
    if (this.#closed) return false
    const open = this.#open.get(peer)
    // A newer connection is on its way or open already (the peer asked for it first).
    if (this.#links.has(peer) || (open !== undefined && open.transport !== transport)) return true
    // No HELLO in time, or the peer closed the connection first: its own HELLO wait ended, and it
    // asks for a new connection or makes one (a peer that left the room is gone from #open).
    if (open === undefined || (error.code !== 'ERR_TIMEOUT' && error.code !== 'ERR_PEER_LEFT')) {
      return false
    }
    const link = this.#replace(
      peer,
      open,
      new PeerjectError('ERR_CLOSED', `connecting to peer ${peer} again: the handshake failed`),
    )
    if (link === undefined) return false
    if (!link.initiator)
      this.#client?.signal(peer, { gen: open.gen, retry: true } satisfies MeshSignal)
    return true
  }

  /**
   * Closes the open connection to `peer` and starts tracking a new one (numbered after it), unless
   * {@link MAX_REDIALS} were made already. The offering side dials at once.
   */
  #replace(peer: PeerId, open: OpenLink, reason: PeerjectError): Link | undefined {
    const redials = this.#redials.get(peer) ?? 0
    if (redials >= MAX_REDIALS) return undefined
    this.#redials.set(peer, redials + 1)
    this.#open.delete(peer)
    open.connection.destroy(reason)
    return this.#link(peer, open.gen)
  }

  /**
   * Starts tracking `peer`: the offering side opens the attempt after `gen` at once, the other
   * waits for it.
   */
  #link(peer: PeerId, gen = 0): Link | undefined {
    if (this.#closed || this.#self === undefined || peer === this.#self) return undefined
    if (this.#failed.has(peer) || this.#open.get(peer)?.transport.state === 'open') return undefined
    const existing = this.#links.get(peer)
    if (existing !== undefined) return existing
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    const link: Link = {
      gen,
      attempts: 0,
      connection: undefined,
      initiator: this.#self < peer,
      deadline: setTimeout(() => {
        this.#fail(
          peer,
          link,
          new PeerjectError('ERR_CONNECT', `no connection to peer ${peer} within ${timeoutMs} ms`),
        )
      }, timeoutMs),
    }
    this.#links.set(peer, link)
    if (link.initiator) this.#attempt(peer, link, gen + 1)
    return link
  }

  #onSignal(from: PeerId, payload: unknown): void {
    const signal = parseMeshSignal(payload)
    if (signal === undefined) return
    const open = this.#open.get(from)
    if (open !== undefined && open.transport.state === 'open') {
      const offering = this.#self !== undefined && this.#self < from
      if (signal.gen === open.gen && 'data' in signal) open.connection.signal(signal.data)
      else if (signal.gen === open.gen && offering) {
        // The answering side's handshake over this connection failed: it asks for a new one.
        this.#replace(from, open, replaced(from))
      } else if (signal.gen > open.gen && !offering && 'data' in signal) {
        // The offering side's handshake failed and it started a new connection: take it.
        if (this.#replace(from, open, replaced(from)) !== undefined) this.#onSignal(from, payload)
      }
      return
    }
    this.#open.delete(from)
    // Attempts after a closed connection are numbered after it, as both sides number them.
    const link = this.#links.get(from) ?? this.#link(from, open?.gen ?? 0)
    if (link === undefined) return
    if ('retry' in signal) {
      if (link.initiator && signal.gen === link.gen) this.#retry(from, link)
      return
    }
    if (signal.gen < link.gen) return // a late message of an earlier attempt
    if (signal.gen > link.gen) {
      if (link.initiator) return // only this side starts attempts
      if (link.attempts >= MAX_ATTEMPTS) return
      link.connection?.destroy()
      this.#attempt(from, link, signal.gen)
    }
    link.connection?.signal(signal.data)
  }

  #attempt(peer: PeerId, link: Link, gen: number): void {
    const client = this.#client
    link.gen = gen
    link.attempts++
    const connection = connectSimplePeer({
      initiator: link.initiator,
      platform: this.#options.platform,
      ...(this.#options.rtcConfig === undefined ? {} : { rtcConfig: this.#options.rtcConfig }),
      // The link's deadline bounds the whole connection; this bounds one attempt that hangs
      // (so a stuck attempt is retried too, not only one that fails).
      connectTimeoutMs: Math.max(
        MIN_ATTEMPT_MS,
        (this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / HANGING_ATTEMPTS,
      ),
      onSignal: (data) => client?.signal(peer, { gen, data } satisfies MeshSignal),
    })
    link.connection = connection
    connection.transport.then(
      (transport) => {
        if (this.#links.get(peer) !== link || link.connection !== connection) {
          transport.close()
          return
        }
        clearTimeout(link.deadline)
        this.#links.delete(peer)
        this.#open.set(peer, { transport, connection, gen: link.gen })
        this.emit('open', peer, transport)
      },
      (error: unknown) => {
        if (this.#links.get(peer) !== link || link.connection !== connection) return
        link.connection = undefined
        const reason =
          error instanceof PeerjectError
            ? error
            : new PeerjectError('ERR_CONNECT', 'connection failed', { cause: error })
        if (link.attempts >= MAX_ATTEMPTS) {
          this.#fail(peer, link, reason)
          return
        }
        // An attempt that failed early (some WebRTC stacks occasionally lose a race while
        // setting up ICE) is retried within the deadline: the offering side starts the next one,
        // the answering side asks it to.
        if (link.initiator) this.#retry(peer, link)
        else client?.signal(peer, { gen: link.gen, retry: true } satisfies MeshSignal)
      },
    )
  }

  #retry(peer: PeerId, link: Link): void {
    if (link.attempts >= MAX_ATTEMPTS) return
    link.connection?.destroy()
    this.#attempt(peer, link, link.gen + 1)
  }

  #fail(peer: PeerId, link: Link, reason: PeerjectError): void {
    if (this.#links.get(peer) !== link) return
    this.#links.delete(peer)
    this.#failed.add(peer)
    clearTimeout(link.deadline)
    link.connection?.destroy()
    this.emit(
      'failed',
      peer,
      reason.code === 'ERR_CONNECT'
        ? reason
        : new PeerjectError('ERR_CONNECT', `could not connect to peer ${peer}`, { cause: reason }),
    )
  }

  #drop(peer: PeerId): void {
    this.#failed.delete(peer)
    this.#redials.delete(peer)
    const link = this.#links.get(peer)
    if (link === undefined) {
      const open = this.#open.get(peer)
      this.#open.delete(peer)
      open?.transport.close(new PeerjectError('ERR_PEER_LEFT', `peer ${peer} left the room`))
      return
    }
    this.#links.delete(peer)
    clearTimeout(link.deadline)
    link.connection?.destroy()
  }
}

/** Why a connection the peer gave up on is closed here (its room then sees the peer leave). */
function replaced(peer: PeerId): PeerjectError {
  return new PeerjectError(
    'ERR_PEER_LEFT',
    `peer ${peer} replaced its connection (its handshake over it failed)`,
  )
}

/** Creates the default connector (signaling server + simple-peer). */
export function createMeshConnector(options: MeshOptions): Connector {
  return new MeshConnector(options)
}
