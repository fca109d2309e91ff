/**
 * The default {@link Connector}: peerject's signaling server introduces the peers of a room and
 * simple-peer opens one data channel to each (a full mesh).
 *
 * No glare: for every pair, the peer whose id sorts first sends the offer; the other waits for it.
 * No ghosts: a peer that signaling reports as gone is closed at once (an ICE timeout would take
 * many seconds), and a connection that does not open in `connectTimeoutMs` is torn down and
 * reported as `failed` (ERR_CONNECT).
 */
import type { ConnectorEvents, Connector } from './connector.js'
import { Emitter } from './emitter.js'
import { PeerjectError } from './errors.js'
import type { PeerId } from './ids.js'
import type { Platform } from './platform.js'
import { SignalingClient } from './signaling/client.js'
import { connectSimplePeer } from './transport/simple-peer.js'
import type { SimplePeerConnection } from './transport/simple-peer.js'

/** Options for {@link createMeshConnector}. */
export interface MeshOptions {
  readonly signaling: string
  readonly room: string
  readonly token?: string
  readonly rtcConfig?: RTCConfiguration
  readonly platform: Platform
  readonly connectTimeoutMs?: number
}

class MeshConnector extends Emitter<ConnectorEvents> implements Connector {
  readonly #options: MeshOptions
  readonly #connections = new Map<PeerId, SimplePeerConnection>()
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
    client.on('peer-joined', (peer) => this.#connect(peer))
    client.on('peer-left', (peer) => this.#drop(peer))
    client.on('signal', (from, data) => {
      // An offer can only come from a peer that sorts first; create its connection on demand.
      const connection = this.#connections.get(from) ?? this.#connect(from)
      connection?.signal(data)
    })
    client.on('error', (error) => this.emit('error', error))
    client.on('close', (reason) => {
      if (reason !== undefined) this.emit('error', reason)
    })
    for (const peer of peers) this.#connect(peer)
    return client.self
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const connection of this.#connections.values()) connection.destroy()
    this.#connections.clear()
    this.#client?.close()
  }

  #connect(peer: PeerId): SimplePeerConnection | undefined {
    if (this.#closed || this.#self === undefined || peer === this.#self) return undefined
    const existing = this.#connections.get(peer)
    if (existing !== undefined) return existing
    const client = this.#client
    const connection = connectSimplePeer({
      initiator: this.#self < peer,
      platform: this.#options.platform,
      ...(this.#options.rtcConfig === undefined ? {} : { rtcConfig: this.#options.rtcConfig }),
      ...(this.#options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: this.#options.connectTimeoutMs }),
      onSignal: (data) => client?.signal(peer, data),
    })
    this.#connections.set(peer, connection)
    connection.transport.then(
      (transport) => {
        if (this.#connections.get(peer) !== connection) {
          transport.close()
          return
        }
        this.emit('open', peer, transport)
      },
      (error: unknown) => {
        if (this.#connections.get(peer) !== connection) return
        this.#connections.delete(peer)
        const reason =
          error instanceof PeerjectError
            ? error
            : new PeerjectError('ERR_CONNECT', 'connection failed', { cause: error })
        this.emit(
          'failed',
          peer,
          reason.code === 'ERR_CONNECT'
            ? reason
            : new PeerjectError('ERR_CONNECT', `could not connect to peer ${peer}`, {
                cause: reason,
              }),
        )
      },
    )
    return connection
  }

  #drop(peer: PeerId): void {
    const connection = this.#connections.get(peer)
    if (connection === undefined) return
    this.#connections.delete(peer)
    connection.destroy(new PeerjectError('ERR_PEER_LEFT', `peer ${peer} left the room`))
  }
}

/** Creates the default connector (signaling server + simple-peer). */
export function createMeshConnector(options: MeshOptions): Connector {
  return new MeshConnector(options)
}
