/**
 * The Node platform: where WebRTC and WebSocket come from in Node. Internal to `src/node.ts` (and
 * the bench, which must measure its raw baseline on the very same implementation).
 */
import { WebSocket as NodeWebSocket } from 'ws'
import { PeerjectError } from './errors.js'
import type { Platform, WebRtcImplementation } from './platform.js'

/** Which Node WebRTC implementation to use, or your own (same shape as `wrtc`). */
export type NodeWebRtc = 'node-datachannel' | 'wrtc' | WebRtcImplementation

/** Longest wait for a connection's data channels to close before the connection is closed. */
const CHANNEL_CLOSE_WAIT_MS = 1000

/**
 * An offer's DTLS role `actpass` made `active`: the answerer then answers `passive`, and the
 * offerer starts the DTLS handshake. Left to choose, libdatachannel's answerer takes `active` and
 * sends its ClientHello as soon as ICE connects, which can be before the offerer has applied the
 * answer; the offerer drops it and the handshake waits for DTLS's one-second retransmission (half
 * of all Node↔Node connections here, see docs/architecture.md, "Connection time"). The offerer
 * cannot be early: it connects ICE only once it holds the answer, and the answerer has set both
 * descriptions before it sends that answer. Applied to the offers a Node peer sends only: offers
 * from a browser keep `actpass` (Chromium, as the DTLS server then, keeps a ClientHello that comes
 * early; libdatachannel as the server does not).
 */
export function offererIsDtlsClient(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1')
}

/**
 * Adapts node-datachannel's RTCPeerConnection to what simple-peer expects of a browser's:
 * its session descriptions are read-only objects, and simple-peer edits them: hand out plain
 * `{ type, sdp }` copies, and makes its offers start DTLS ({@link offererIsDtlsClient}).
 * (Occasional early failures of node-datachannel connections are retried by the mesh: see
 * docs/architecture.md, "Connection attempts".) It also closes a connection's data channels before
 * the connection itself (see `close`).
 */
function nodeDataChannelAdapter(impl: WebRtcImplementation): WebRtcImplementation {
  // The DOM typings declare legacy callback overloads; only the promise forms exist here.
  const Base = impl.RTCPeerConnection as unknown as new (configuration?: RTCConfiguration) => {
    createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>
    createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>
    get localDescription(): RTCSessionDescriptionInit | null
  }
  class NodeDataChannelPeerConnection extends Base {
    readonly #channels = new Set<RTCDataChannel>()
    #closing = false

    constructor(configuration?: RTCConfiguration) {
      super(configuration)
      const self = this as unknown as RTCPeerConnection
      self.addEventListener('datachannel', (event) => this.#track(event.channel))
    }

    createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const create = (Base.prototype as unknown as RTCPeerConnection).createDataChannel
      const channel = create.call(this, label, init)
      this.#track(channel)
      return channel
    }

    /**
     * Closes the data channels first and closes the connection once they report closed (within
     * {@link CHANNEL_CLOSE_WAIT_MS}). Closed together (simple-peer closes the channel, then the
     * connection, in one turn; the polyfill defers the channel's native close by a macrotask),
     * libdatachannel now and then never reports the channel closed, and its native callbacks
     * then keep the Node process alive for ever after `leave()` (docs/architecture.md, "Node
     * WebRTC").
     */
    close(): void {
      if (this.#closing) return
      this.#closing = true
      const open = [...this.#channels].filter((channel) => channel.readyState !== 'closed')
      const closeConnection = (): void => {
        ;(Base.prototype as unknown as RTCPeerConnection).close.call(this)
      }
      if (open.length === 0) return closeConnection()
      let waiting = open.length
      const timer = setTimeout(closeConnection, CHANNEL_CLOSE_WAIT_MS)
      for (const channel of open) {
        channel.addEventListener('close', () => {
          if (--waiting === 0) {
            clearTimeout(timer)
            closeConnection()
          }
        })
        channel.close()
      }
    }

    #track(channel: RTCDataChannel): void {
      this.#channels.add(channel)
      channel.addEventListener('close', () => this.#channels.delete(channel))
    }

    override async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createOffer(options)
      return { type: description.type, sdp: offererIsDtlsClient(description.sdp ?? '') }
    }

    /**
     * What the peer gets: simple-peer signals `localDescription` (not what `createOffer` returned),
     * and the polyfill applies only the type of a local offer, so libdatachannel's own description
     * still says `actpass`: an offer's is rewritten here too.
     */
    override get localDescription(): RTCSessionDescriptionInit | null {
      const description = super.localDescription
      if (description === null || description.type === undefined) return description
      const sdp = description.sdp ?? ''
      return {
        type: description.type,
        sdp: description.type === 'offer' ? offererIsDtlsClient(sdp) : sdp,
      }
    }
    override async createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createAnswer(options)
      return { type: description.type, sdp: description.sdp ?? '' }
    }
  }
  return {
    ...impl,
    RTCPeerConnection: NodeDataChannelPeerConnection as unknown as typeof RTCPeerConnection,
  }
}

/** The Node platform for `choice` (default node-datachannel). Internal: used by `src/node.ts` and the bench. */
export async function loadNodePlatform(choice: NodeWebRtc | undefined): Promise<Platform> {
  if (
    choice !== undefined &&
    choice !== 'node-datachannel' &&
    choice !== 'wrtc' &&
    (typeof choice !== 'object' || choice === null)
  ) {
    throw new TypeError(
      `joinRoom: webrtc must be 'node-datachannel', 'wrtc' or an implementation object ({ RTCPeerConnection, … }), got ${typeof choice === 'string' ? `'${choice}'` : String(choice)}`,
    )
  }
  if (typeof choice === 'object') {
    return {
      name: 'node',
      webrtc: choice,
      WebSocket: NodeWebSocket as unknown as typeof WebSocket,
      maxChannelMessageSize: 256 * 1024,
    }
  }
  if (choice === 'wrtc') {
    let wrtc: WebRtcImplementation
    try {
      const module = (await import('@roamhq/wrtc')) as { default: WebRtcImplementation }
      wrtc = module.default
    } catch (error) {
      throw new PeerjectError(
        'ERR_CONNECT',
        'joinRoom({ webrtc: "wrtc" }) needs @roamhq/wrtc: npm install @roamhq/wrtc',
        { cause: error },
      )
    }
    // @roamhq/wrtc never fires `bufferedamountlow` (poll instead) and silently closes a channel on
    // a message over 256 KiB (stay at 128 KiB).
    return {
      name: 'node',
      webrtc: wrtc,
      WebSocket: NodeWebSocket as unknown as typeof WebSocket,
      bufferedAmountPollMs: 5,
      maxChannelMessageSize: 128 * 1024,
    }
  }
  let ndc: WebRtcImplementation
  try {
    ndc = (await import('node-datachannel/polyfill')) as unknown as WebRtcImplementation
  } catch (error) {
    // An optional peer dependency: browser apps need not install its native binaries.
    throw new PeerjectError(
      'ERR_CONNECT',
      'peerject/node needs a WebRTC implementation: npm install node-datachannel (or @roamhq/wrtc with joinRoom({ webrtc: "wrtc" }))',
      { cause: error },
    )
  }
  return {
    name: 'node',
    webrtc: nodeDataChannelAdapter(ndc),
    WebSocket: NodeWebSocket as unknown as typeof WebSocket,
    maxChannelMessageSize: 256 * 1024,
  }
}
