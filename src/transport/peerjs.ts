/**
 * The PeerJS adapter: a {@link Connector} that finds a room's peers through a PeerServer (npm `peer`)
 * and opens one PeerJS DataConnection to each. This is the only file that imports `peerjs`, and it
 * imports it lazily (`import('peerjs')` in `start()`), so apps that never use a PeerServer neither
 * load peerjs nor run its import-time side effects (webrtc-adapter shims, a probe RTCPeerConnection).
 *
 * Naming rule (docs/peerjs.md): every peer registers as `peerject_r<hex>_<uuid>`, where `<hex>` is the
 * room name's UTF-8 bytes in lowercase hex and `<uuid>` a fresh `crypto.randomUUID()`. PeerJS only
 * accepts ids matching `/^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/`; hex keeps any room name legal and
 * unambiguous (no `_` inside it, so room `ab` never matches room `abc`). The room sees the `<uuid>`.
 *
 * Who connects: `start()` registers, then lists the server's peers (`GET …/<key>/peers`, needs
 * `allow_discovery`) and dials every peer of the same room: the newcomer always initiates, existing
 * peers accept. Two peers that join at the same moment may dial each other; then the connection
 * dialed by the smaller PeerServer id survives (both sides decide alike).
 *
 * Failed handshakes: a connection whose data channel opened but over which the peer's HELLO never
 * came (about one in fifty Node-dialed Chromium connections, until the accepting side was made to
 * speak second: `speaksSecond` in data-channel.ts; this stays as the safety net) is dialed again,
 * up to {@link MAX_REDIALS} times per peer, by whichever side saw the failure (`retry`, called by
 * the room). The new connection carries `metadata: { redial: true }`, and the other side lets it
 * replace the connection it holds to that peer (which the dialer has given up), open or not; only
 * when both sides dial at once does the glare rule above decide.
 *
 * Data: `serialization: 'raw'`, `reliable: true`. Bytes go straight to the RTCDataChannel through
 * {@link ChannelTransport} (flow control on `bufferedamountlow`), bypassing peerjs's `send` and its
 * 50 ms polling; incoming binary arrives through the connection's `data` event.
 *
 * Leaves close the transport with ERR_PEER_LEFT, on the first of three witnesses: the
 * DataConnection's `close`; the RTCPeerConnection's `connectionstatechange` to
 * `disconnected`/`failed`/`closed`; the peer missing from the PeerServer's list. The PeerServer never
 * announces leaves, and a closed tab or a killed process sends nothing over WebRTC (ICE notices only
 * after ~30 s in node-datachannel), but its socket to the PeerServer drops at once; so while
 * connections exist the list is fetched every `presencePollMs` (default 2 s). A browser page that
 * is hidden for good (`pagehide`) closes its connector, so its peers see the close at once.
 *
 * This file is longer than ~400 lines on purpose: DESIGN.md keeps each adapter in one file, and
 * the Node globals peerjs needs (bottom) belong to no one else.
 */
import type { DataConnection, Peer } from 'peerjs'
import { MAX_REDIALS } from '../connector.js'
import type { Connector, ConnectorEvents } from '../connector.js'
import { Emitter } from '../emitter.js'
import { PeerjectError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { randomId } from '../ids.js'
import type { PeerId } from '../ids.js'
import type { Platform } from '../platform.js'
import { ChannelTransport, toBytes } from './data-channel.js'
import type { DataChannelLike } from './data-channel.js'
import type { Transport } from './transport.js'

/** Messages kept from a peer before this side's 'open' (a HELLO, maybe a few frames). */
const MAX_EARLY_MESSAGES = 64

/** Where the PeerServer runs, as given to `new Peer(id, options)`. */
export interface PeerJsServerOptions {
  readonly host: string
  readonly port: number
  /** Path the PeerServer is mounted on. Default `/`. */
  readonly path?: string
  /** The PeerServer's key. Default `peerjs`. */
  readonly key?: string
  /** `wss:`/`https:` instead of `ws:`/`http:`. Default: true on an https page, else false. */
  readonly secure?: boolean
  /** RTCPeerConnection configuration. Default `{ iceServers: [] }` (never peerjs's public servers). */
  readonly config?: RTCConfiguration
}

/** Options for {@link createPeerJsConnector}. */
export interface PeerJsConnectorOptions {
  readonly room: string
  readonly platform: Platform
  readonly peerjs: PeerJsServerOptions
  /** Limit for reaching the PeerServer and for each connection to open. Default 15 s. */
  readonly connectTimeoutMs?: number
  /** How often the PeerServer's list is checked for peers that left, while any exist. Default 2 s. */
  readonly presencePollMs?: number
}

/** Default of {@link PeerJsConnectorOptions.connectTimeoutMs}. */
export const DEFAULT_PEERJS_CONNECT_TIMEOUT_MS = 15_000
/** Default of {@link PeerJsConnectorOptions.presencePollMs}. */
export const DEFAULT_PEERJS_PRESENCE_POLL_MS = 2_000

/** The PeerServer id prefix shared by every peer of `room` (see the naming rule above). */
export function peerJsRoomPrefix(room: string): string {
  let hex = ''
  for (const byte of new TextEncoder().encode(room)) hex += byte.toString(16).padStart(2, '0')
  return `peerject_r${hex}_`
}

/** Creates the PeerJS connector; nothing happens until `start()`. */
export function createPeerJsConnector(options: PeerJsConnectorOptions): Connector {
  return new PeerJsConnector(options)
}

/** What the adapter uses of the peerjs module (its ESM build has it at the top, its CJS build under `default`). */
interface PeerJsModule {
  readonly Peer: typeof Peer
  readonly util: { readonly supports: { webRTC: boolean; data: boolean; reliable: boolean } }
}

/** One connection to one remote peer, pending (no transport yet) or open. */
interface Link {
  readonly conn: DataConnection
  readonly outgoing: boolean
  transport: ChannelTransport | undefined
  /** Messages that came before the transport existed (the other side may send before our 'open'). */
  early: unknown[]
  timer: ReturnType<typeof setTimeout> | undefined
  /** Order of creation: a peer list requested before a link existed cannot judge it. */
  readonly seq: number
}

const LABEL = 'peerject'
/** The metadata of a connection dialed again (see the file comment). */
const REDIAL = { redial: true } as const

/**
 * What to do with a connection dialed by a peer to which this side already holds `existing`
 * (`undefined`: none). Two peers joining at once may dial each other (glare): the connection dialed
 * by the smaller id survives, and both sides decide alike. Otherwise a peer dials once, and again
 * only after giving up the connection it had (a redial, see `retry`), which then replaces ours.
 * Internal; exported for its tests.
 */
export function acceptDecision(
  existing: { readonly outgoing: boolean; readonly open: boolean } | undefined,
  redial: boolean,
  remoteIsSmaller: boolean,
): 'accept' | 'refuse' | 'replace' {
  if (existing === undefined) return 'accept'
  if (existing.outgoing && !existing.open) return remoteIsSmaller ? 'replace' : 'refuse'
  return redial ? 'replace' : 'refuse'
}

function isRedial(metadata: unknown): boolean {
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    (metadata as { redial?: unknown }).redial === true
  )
}

class PeerJsConnector extends Emitter<ConnectorEvents> implements Connector {
  readonly self: PeerId
  readonly #options: PeerJsConnectorOptions
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #links = new Map<PeerId, Link>()
  /** Redials made per peer (see `retry`). */
  readonly #redials = new Map<PeerId, number>()
  #peer: Peer | undefined
  #starting: Promise<PeerId> | undefined
  #releaseGlobals: (() => void) | undefined
  #closed = false
  #signalingLost = false
  #seq = 0
  #pollTimer: ReturnType<typeof setTimeout> | undefined
  readonly #onPageHide = (event: Event): void => {
    if (!(event as PageTransitionEvent).persisted) this.close()
  }

  constructor(options: PeerJsConnectorOptions) {
    super()
    this.#options = options
    this.#prefix = peerJsRoomPrefix(options.room)
    this.#timeoutMs = options.connectTimeoutMs ?? DEFAULT_PEERJS_CONNECT_TIMEOUT_MS
    this.self = randomId() as PeerId
  }

  start(): Promise<PeerId> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    const links = [...this.#links.values()]
    this.#links.clear()
    for (const link of links) {
      clearTimeout(link.timer)
      if (link.transport !== undefined) link.transport.close()
      else link.conn.close()
    }
    clearTimeout(this.#pollTimer)
    globalThis.removeEventListener?.('pagehide', this.#onPageHide)
    this.#peer?.destroy()
    this.#releaseGlobals?.()
    this.#releaseGlobals = undefined
  }

  async #start(): Promise<PeerId> {
    try {
      return await this.#join()
    } catch (error) {
      this.close()
      throw error
    }
  }

  async #join(): Promise<PeerId> {
    this.#assertOpen()
    const { platform, peerjs } = this.#options
    const lib = await importPeerJs()
    this.#assertOpen()
    // A fresh object per connector: in Node it is the key to this connector's WebRTC implementation.
    const config: RTCConfiguration = { iceServers: [], ...peerjs.config }
    if (platform.name === 'node') {
      this.#releaseGlobals = leaseNodeGlobals(platform, config)
      // peerjs probes for WebRTC once, when it is first imported; in Node that probe found no
      // globals (deliberately: the probe would use peerjs's public STUN/TURN servers). The globals
      // are there now.
      Object.assign(lib.util.supports, { webRTC: true, data: true, reliable: true })
    }
    let peer: Peer
    try {
      peer = new lib.Peer(this.#prefix + this.self, {
        host: peerjs.host,
        port: peerjs.port,
        path: normalizePath(peerjs.path),
        key: peerjs.key ?? 'peerjs',
        secure: this.#secure(),
        token: randomId(),
        config,
        debug: 0,
      })
    } catch (error) {
      throw new PeerjectError('ERR_SIGNALING', `bad PeerServer address ${this.#serverUrl('ws')}`, {
        cause: error,
      })
    }
    this.#peer = peer
    if (platform.name === 'browser') globalThis.addEventListener?.('pagehide', this.#onPageHide)
    peer.on('connection', (conn) => this.#accept(conn))
    await this.#waitForServer(peer)
    peer.on('error', (error) => this.#onPeerError(error))
    const listed = await this.#listPeers()
    this.#assertOpen()
    for (const id of listed) {
      if (!id.startsWith(this.#prefix)) continue
      const remote = id.slice(this.#prefix.length) as PeerId
      if (remote !== this.self && !this.#links.has(remote)) this.#dial(remote)
    }
    return this.self
  }

  #schedulePoll(): void {
    if (this.#closed || this.#pollTimer !== undefined || this.#links.size === 0) return
    const ms = this.#options.presencePollMs ?? DEFAULT_PEERJS_PRESENCE_POLL_MS
    this.#pollTimer = setTimeout(() => void this.#poll(), ms)
  }

  /** Closes every link whose peer is no longer on the PeerServer (see the file comment). */
  async #poll(): Promise<void> {
    const asked = this.#seq
    try {
      const listed = new Set(await this.#listPeers())
      for (const [remote, link] of this.#links) {
        if (link.seq <= asked && !listed.has(this.#prefix + remote)) {
          this.#gone(remote, link, 'it is no longer on the PeerServer')
        }
      }
    } catch {
      // The server is unreachable: the Peer's socket reports that (`error`); WebRTC still watches.
    } finally {
      this.#pollTimer = undefined
      this.#schedulePoll()
    }
  }

  /** See the file comment ("Failed handshakes") and the {@link Connector} contract. */
  retry(remote: PeerId, transport: Transport, error: PeerjectError): boolean {
    if (this.#closed) return false
    const link = this.#links.get(remote)
    // A newer connection to that peer is already there (its redial replaced the failed one).
    if (link !== undefined && link.transport !== transport) return true
    if (error.code !== 'ERR_TIMEOUT') return false
    const redials = this.#redials.get(remote) ?? 0
    if (redials >= MAX_REDIALS) return false
    this.#redials.set(remote, redials + 1)
    if (link !== undefined) {
      link.transport?.closed(new PeerjectError('ERR_CLOSED', `dialing peer ${remote} again`))
      this.#drop(remote, link)
    }
    this.#dial(remote, true)
    return true
  }

  #assertOpen(): void {
    if (this.#closed) throw new PeerjectError('ERR_CLOSED', 'the room was left while joining')
  }

  #secure(): boolean {
    return this.#options.peerjs.secure ?? globalThis.location?.protocol === 'https:'
  }

  #serverUrl(scheme: 'ws' | 'http'): string {
    const { host, port, path, key } = this.#options.peerjs
    const s = this.#secure() ? 's' : ''
    const base = `${scheme}${s}://${host}:${port}${normalizePath(path)}`
    return scheme === 'ws' ? `${base}peerjs?key=${key ?? 'peerjs'}` : `${base}${key ?? 'peerjs'}`
  }

  /** Resolves on the server's OPEN; rejects with a coded error on the first error or in time. */
  #waitForServer(peer: Peer): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (code: ErrorCode, message: string, cause?: unknown): void => {
        done()
        peer.destroy()
        reject(new PeerjectError(code, message, { cause }))
      }
      const onOpen = (): void => {
        done()
        if (this.#closed) reject(new PeerjectError('ERR_CLOSED', 'the room was left while joining'))
        else resolve()
      }
      const onError = (error: { type: string; message: string }): void => {
        const where = this.#serverUrl('ws')
        if (error.type === 'unavailable-id') {
          fail(
            'ERR_SIGNALING',
            `the PeerServer at ${where} says this peer's id is taken; join again`,
            error,
          )
        } else if (error.type === 'browser-incompatible') {
          fail(
            'ERR_CONNECT',
            'peerjs found no WebRTC here; pass a platform with a WebRTC implementation',
            error,
          )
        } else {
          fail(
            'ERR_SIGNALING',
            `could not join the PeerServer at ${where} (${error.type}: ${error.message}); check host, port, path and key, and that the server runs`,
            error,
          )
        }
      }
      const onClose = (): void => fail('ERR_CLOSED', 'the room was left while joining')
      const timer = setTimeout(() => {
        fail(
          'ERR_SIGNALING',
          `the PeerServer at ${this.#serverUrl('ws')} did not answer within ${this.#timeoutMs} ms`,
        )
      }, this.#timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        peer.off('open', onOpen)
        peer.off('error', onError)
        peer.off('close', onClose)
      }
      peer.on('open', onOpen)
      peer.on('error', onError)
      peer.on('close', onClose)
    })
  }

  /**
   * The server's peer list. peerjs's own `peer.listAllPeers` is not used: on any failure it
   * destroys the Peer and reports no HTTP status, so a missing `allow_discovery` could not be named.
   */
  async #listPeers(): Promise<string[]> {
    const url = `${this.#serverUrl('http')}/peers`
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.#timeoutMs) })
    } catch (error) {
      throw new PeerjectError('ERR_SIGNALING', `could not list the peers at ${url}`, {
        cause: error,
      })
    }
    if (response.status === 401) {
      throw new PeerjectError(
        'ERR_SIGNALING',
        `the PeerServer refuses to list its peers (${url}); start it with allow_discovery: true (CLI: peerjs --allow_discovery)`,
      )
    }
    if (!response.ok) {
      throw new PeerjectError(
        'ERR_SIGNALING',
        `listing the peers at ${url} failed with HTTP ${response.status}`,
      )
    }
    const body: unknown = await response.json().catch(() => undefined)
    if (!Array.isArray(body) || !body.every((id): id is string => typeof id === 'string')) {
      throw new PeerjectError(
        'ERR_SIGNALING',
        `the PeerServer's peer list (${url}) is not an array of ids`,
      )
    }
    return body
  }

  #dial(remote: PeerId, redial = false): void {
    const conn = this.#peer?.connect(this.#prefix + remote, {
      label: LABEL,
      serialization: 'raw',
      reliable: true,
      ...(redial ? { metadata: REDIAL } : {}),
    })
    // `connect` returns nothing once the Peer lost the server; the remote will dial us if it can.
    if (conn === undefined) {
      this.emit(
        'failed',
        remote,
        new PeerjectError(
          'ERR_CONNECT',
          `cannot dial peer ${remote}: the PeerServer connection is lost`,
        ),
      )
      return
    }
    this.#track(remote, conn, true)
  }

  #accept(conn: DataConnection): void {
    const refuse = (): void => conn.close()
    if (this.#closed || !conn.peer.startsWith(this.#prefix) || conn.serialization !== 'raw')
      return refuse()
    const remote = conn.peer.slice(this.#prefix.length) as PeerId
    const existing = this.#links.get(remote)
    const decision = acceptDecision(
      existing === undefined
        ? undefined
        : { outgoing: existing.outgoing, open: existing.transport !== undefined },
      isRedial(conn.metadata),
      remote < this.self,
    )
    if (decision === 'refuse') return refuse()
    if (existing !== undefined) {
      existing.transport?.closed(
        new PeerjectError('ERR_PEER_LEFT', `peer ${remote} replaced its connection`),
      )
      this.#drop(remote, existing)
    }
    this.#track(remote, conn, false)
  }

  #track(remote: PeerId, conn: DataConnection, outgoing: boolean): void {
    const link: Link = {
      conn,
      outgoing,
      transport: undefined,
      timer: undefined,
      seq: ++this.#seq,
      early: [],
    }
    this.#links.set(remote, link)
    this.#schedulePoll()
    link.timer = setTimeout(() => {
      this.#fail(
        remote,
        link,
        `no data channel to peer ${remote} within ${this.#timeoutMs} ms; check that both peers can reach each other (ICE servers in peerjs.config)`,
      )
    }, this.#timeoutMs)
    conn.on('open', () => this.#opened(remote, link))
    // From the start, not from 'open': the peer's first frame (its HELLO) can be delivered before
    // this side's 'open' event, and a message with no listener is lost.
    conn.on('data', (data: unknown) => {
      if (link.transport !== undefined) this.#receive(remote, link.transport, data)
      else if (link.early.length < MAX_EARLY_MESSAGES) link.early.push(data)
      else this.#fail(remote, link, `peer ${remote} sent too much before its channel opened`)
    })
    conn.on('close', () => this.#gone(remote, link, 'its PeerJS connection closed'))
    conn.peerConnection.addEventListener('connectionstatechange', () => {
      const state = conn.peerConnection?.connectionState
      if (state === 'disconnected' || state === 'failed' || state === 'closed') {
        this.#gone(remote, link, `its WebRTC connection is ${state}`)
      }
    })
  }

  #opened(remote: PeerId, link: Link): void {
    if (this.#links.get(remote) !== link || link.transport !== undefined) return
    clearTimeout(link.timer)
    const { platform } = this.#options
    const sctpMax = link.conn.peerConnection?.sctp?.maxMessageSize
    const transport = new ChannelTransport(link.conn.dataChannel as unknown as DataChannelLike, {
      maxMessageSize:
        typeof sctpMax === 'number' && sctpMax > 0
          ? Math.min(sctpMax, platform.maxChannelMessageSize)
          : platform.maxChannelMessageSize,
      ...(platform.bufferedAmountPollMs === undefined
        ? {}
        : { pollMs: platform.bufferedAmountPollMs }),
      closeUnderlying: () => link.conn.close(),
      // The dialer created the channel: the accepting side waits for its first message.
      speaksSecond: !link.outgoing,
    })
    link.transport = transport
    for (const data of link.early.splice(0)) this.#receive(remote, transport, data)
    this.emit('open', remote, transport)
  }

  #receive(remote: PeerId, transport: ChannelTransport, data: unknown): void {
    const bytes = toBytes(data)
    if (bytes !== undefined) transport.receive(bytes)
    else
      transport.close(
        new PeerjectError(
          'ERR_BAD_MESSAGE',
          `peer ${remote} sent a text message; peerject peers send binary only`,
        ),
      )
  }

  /** The connection ended: a leave when it was open, a failure when it was pending. */
  #gone(remote: PeerId, link: Link, why: string): void {
    if (this.#links.get(remote) !== link) return
    if (link.transport === undefined)
      return this.#fail(
        remote,
        link,
        `the connection to peer ${remote} ended before it opened (${why})`,
      )
    this.#links.delete(remote)
    link.transport.closed(
      new PeerjectError('ERR_PEER_LEFT', `peer ${remote} left the room (${why})`),
    )
    link.conn.close()
  }

  #fail(remote: PeerId, link: Link, message: string): void {
    if (this.#links.get(remote) !== link) return
    this.#drop(remote, link)
    this.emit('failed', remote, new PeerjectError('ERR_CONNECT', message))
  }

  /** Forgets a pending link without reporting it, and closes it. */
  #drop(remote: PeerId, link: Link): void {
    this.#links.delete(remote)
    clearTimeout(link.timer)
    link.conn.close()
  }

  /** Errors after joining: an unreachable dialed peer fails; losing the server is reported once. */
  #onPeerError(error: { type: string; message: string }): void {
    if (this.#closed) return
    if (error.type === 'peer-unavailable') {
      for (const [remote, link] of this.#links) {
        if (link.transport === undefined && error.message.includes(this.#prefix + remote)) {
          this.#fail(remote, link, `peer ${remote} is no longer on the PeerServer`)
        }
      }
    } else if (
      error.type === 'network' ||
      error.type.startsWith('socket') ||
      error.type === 'server-error'
    ) {
      if (this.#signalingLost) return
      this.#signalingLost = true
      this.emit(
        'error',
        new PeerjectError(
          'ERR_SIGNALING',
          `lost the PeerServer at ${this.#serverUrl('ws')}: open connections stay, but new peers cannot reach this one; join again to be found`,
          { cause: error },
        ),
      )
    }
    // 'webrtc' errors name no connection; that connection's timeout or close reports it.
  }
}

function normalizePath(path: string | undefined): string {
  let normalized = path ?? '/'
  if (!normalized.startsWith('/')) normalized = `/${normalized}`
  if (!normalized.endsWith('/')) normalized += '/'
  return normalized
}

async function importPeerJs(): Promise<PeerJsModule> {
  // Vite and browsers load the ESM build (named exports); Node loads the CJS build, whose
  // namespace has only `default` (Parcel's getters are invisible to Node's CJS export scanner).
  const module = (await import('peerjs')) as unknown as Partial<PeerJsModule> & {
    default?: PeerJsModule
  }
  if (typeof module.Peer === 'function') return module as PeerJsModule
  if (typeof module.default?.Peer === 'function') return module.default
  throw new PeerjectError(
    'ERR_INTERNAL',
    'the peerjs module has no Peer export; is peerjs 1.5 installed?',
  )
}

/** Process-wide bookkeeping of the globals installed for peerjs in Node (shared by all connectors). */
interface GlobalsLease {
  count: number
  readonly installed: readonly string[]
  /**
   * Each started connector's RTCPeerConnection class, keyed by the `config` object it gave peerjs.
   * peerjs builds every connection with `new RTCPeerConnection(options.config)`, passing that very
   * object, so the one global can build each connector's connections with its own implementation.
   */
  readonly implementations: WeakMap<object, typeof RTCPeerConnection>
}
const LEASE = Symbol.for('peerject.peerjs.node-globals')

/**
 * peerjs reads `RTCPeerConnection`, `RTCSessionDescription` and `WebSocket` as globals, at the moment
 * it connects (also for offers arriving later). Node has none of them (Node 20 has no WebSocket), so
 * while at least one PeerJS connector is started, the missing ones are defined, and removed again
 * when the last connector closes. Globals that already exist are never replaced.
 *
 * Connectors of one process may use different WebRTC implementations (`webrtc: 'wrtc'` next to
 * node-datachannel). The global `RTCPeerConnection` therefore dispatches on the configuration object
 * (`config`, unique per connector) to the implementation of the connector that owns it; before this,
 * every connector silently used the first connector's implementation. `RTCSessionDescription` comes
 * from the first platform; {@link nodePeerConnection} hands plain `{ type, sdp }` copies to its
 * implementation, so a description object of another implementation does no harm.
 * Browsers never get here.
 */
function leaseNodeGlobals(platform: Platform, config: RTCConfiguration): () => void {
  const scope = globalThis as unknown as Record<PropertyKey, unknown>
  let lease = scope[LEASE] as GlobalsLease | undefined
  if (lease === undefined) {
    const installed: string[] = []
    const implementations = new WeakMap<object, typeof RTCPeerConnection>()
    const define = (name: string, value: unknown): void => {
      if (scope[name] !== undefined) return
      scope[name] = value
      installed.push(name)
    }
    define('RTCPeerConnection', dispatchingPeerConnection(implementations))
    define('RTCSessionDescription', platform.webrtc.RTCSessionDescription)
    define('WebSocket', quietWebSocket(platform.WebSocket))
    lease = { count: 0, installed, implementations }
    scope[LEASE] = lease
  }
  const held = lease
  held.implementations.set(config, nodePeerConnection(platform.webrtc.RTCPeerConnection))
  held.count++
  let released = false
  return () => {
    if (released) return
    released = true
    held.implementations.delete(config)
    held.count--
    if (held.count > 0) return
    for (const name of held.installed) delete scope[name]
    delete scope[LEASE]
  }
}

/** The global `RTCPeerConnection` in Node: builds each connection with its connector's implementation. */
function dispatchingPeerConnection(
  implementations: WeakMap<object, typeof RTCPeerConnection>,
): typeof RTCPeerConnection {
  // A function, not a class: called with `new`, the object it returns is the result.
  function DispatchingPeerConnection(config?: RTCConfiguration): object {
    const Implementation = config === undefined ? undefined : implementations.get(config)
    if (Implementation === undefined) {
      throw new PeerjectError(
        'ERR_INTERNAL',
        'peerjs built an RTCPeerConnection with a configuration no started peerject connector owns',
      )
    }
    return new Implementation(config)
  }
  return DispatchingPeerConnection as unknown as typeof RTCPeerConnection
}

/**
 * The RTCPeerConnection peerjs gets in Node, with repairs for node-datachannel (harmless elsewhere):
 * - Candidate timing. It fires `icecandidate` before `setLocalDescription` resolves, and peerjs
 *   relays candidates at once but descriptions only after that promise; worse, once the answerer
 *   holds the offerer's candidates it may finish ICE and DTLS before the offerer has applied the
 *   answer, which libdatachannel sometimes answers by closing both connections. So local
 *   candidates are held until both descriptions are set (and one task more, so that peerjs sends
 *   the description first), and remote candidates that arrive before the remote description wait
 *   for it instead of failing.
 * - Candidate syntax. Its strings read `a=candidate:…`; browsers expect `candidate:…`.
 * - Remote descriptions are passed on as plain `{ type, sdp }`: peerjs wraps them in the global
 *   `RTCSessionDescription`, which may belong to another connector's implementation.
 */
function nodePeerConnection(Base: typeof RTCPeerConnection): typeof RTCPeerConnection {
  // The DOM typings add legacy callback overloads; only the promise forms are used here.
  const Narrowed = Base as unknown as new (config?: RTCConfiguration) => EventTarget & {
    setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void>
    setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>
    addIceCandidate(candidate?: RTCIceCandidateInit): Promise<void>
  }
  class NodePeerConnection extends Narrowed {
    #localSet = false
    #remoteSet = false
    #relaying = false
    readonly #held: Event[] = []
    readonly #early: RTCIceCandidateInit[] = []

    override async setLocalDescription(
      description?: RTCLocalSessionDescriptionInit,
    ): Promise<void> {
      await super.setLocalDescription(description)
      this.#localSet = true
      this.#release()
    }

    override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      // peerjs wraps it in the global RTCSessionDescription, possibly another implementation's.
      await super.setRemoteDescription({
        type: description.type,
        ...(description.sdp === undefined ? {} : { sdp: description.sdp }),
      })
      this.#remoteSet = true
      for (const candidate of this.#early.splice(0)) {
        // A bad early candidate is worth no more than peerjs's own failed addIceCandidate (a log).
        await super.addIceCandidate(candidate).catch(() => {})
      }
      this.#release()
    }

    override async addIceCandidate(candidate?: RTCIceCandidateInit): Promise<void> {
      if (this.#remoteSet || candidate === undefined) return super.addIceCandidate(candidate)
      this.#early.push(candidate)
    }

    override dispatchEvent(event: Event): boolean {
      if (event.type !== 'icecandidate') return super.dispatchEvent(event)
      const candidate = (event as Partial<RTCPeerConnectionIceEvent>).candidate
      let relayed = event
      if (candidate?.candidate.startsWith('a=')) {
        relayed = new Event('icecandidate')
        Object.defineProperty(relayed, 'candidate', {
          value: {
            candidate: candidate.candidate.slice(2),
            sdpMid: candidate.sdpMid,
            sdpMLineIndex: candidate.sdpMLineIndex,
            usernameFragment: candidate.usernameFragment,
          },
        })
      }
      if (this.#relaying) return super.dispatchEvent(relayed)
      this.#held.push(relayed)
      return true
    }

    #release(): void {
      if (!this.#localSet || !this.#remoteSet) return
      // A task, not a microtask: peerjs's continuation (which sends the description) runs first.
      setTimeout(() => {
        this.#relaying = true
        for (const event of this.#held.splice(0)) super.dispatchEvent(event)
      }, 0)
    }
  }
  return NodePeerConnection as unknown as typeof RTCPeerConnection
}

/**
 * `ws` throws an unhandled `error` event when nobody listens (peerjs sets only `onclose`), which
 * would crash Node on an unreachable server. A silent listener leaves the report to `onclose`.
 */
function quietWebSocket(Base: typeof WebSocket): typeof WebSocket {
  return class extends Base {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('error', () => {})
    }
  }
}
