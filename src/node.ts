/**
 * peerject for Node: the same `joinRoom` as in browsers, with a Node WebRTC implementation plugged
 * in. Default: node-datachannel (its binary ships inside the npm package). `@roamhq/wrtc` (the
 * maintained `wrtc`) is accepted through `joinRoom({ webrtc: 'wrtc' })` when installed.
 */
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { WebSocket as NodeWebSocket } from 'ws'
import { NodeWorkerHost, createDirectoryStore } from './code/node.js'
import { join } from './join.js'
import type { JoinOptions } from './join.js'
import type { Platform, WebRtcImplementation } from './platform.js'
import type { Room } from './room.js'
import { PeerjectError } from './errors.js'

export * from './index.js'
export { createDirectoryStore } from './code/node.js'

/** Which Node WebRTC implementation to use, or your own (same shape as `wrtc`). */
export type NodeWebRtc = 'node-datachannel' | 'wrtc' | WebRtcImplementation

/** `joinRoom` options in Node. */
export interface NodeJoinOptions extends JoinOptions {
  /** Default `'node-datachannel'`. */
  readonly webrtc?: NodeWebRtc
}

/**
 * Adapts node-datachannel's RTCPeerConnection to what simple-peer expects of a browser's:
 * its session descriptions are read-only objects, and simple-peer edits them: hand out plain
 * `{ type, sdp }` copies. (Occasional early failures of node-datachannel connections are retried
 * by the mesh: see docs/architecture.md, "Connection attempts".)
 */
function nodeDataChannelAdapter(impl: WebRtcImplementation): WebRtcImplementation {
  // The DOM typings declare legacy callback overloads; only the promise forms exist here.
  const Base = impl.RTCPeerConnection as unknown as new (configuration?: RTCConfiguration) => {
    createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>
    createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>
  }
  class NodeDataChannelPeerConnection extends Base {
    override async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createOffer(options)
      return { type: description.type, sdp: description.sdp ?? '' }
    }
    override async createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createAnswer(options)
      return { type: description.type, sdp: description.sdp ?? '' }
    }
  }
  return { ...impl, RTCPeerConnection: NodeDataChannelPeerConnection as typeof RTCPeerConnection }
}

async function loadWebRtc(choice: NodeWebRtc | undefined): Promise<Platform> {
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
  const ndc = (await import('node-datachannel/polyfill')) as unknown as WebRtcImplementation
  return {
    name: 'node',
    webrtc: nodeDataChannelAdapter(ndc),
    WebSocket: NodeWebSocket as unknown as typeof WebSocket,
    maxChannelMessageSize: 256 * 1024,
  }
}

/**
 * Joins a room from Node. Same API and events as in browsers.
 *
 * @example
 * import { joinRoom } from 'peerject/node'
 * const room = await joinRoom({ signaling: 'ws://localhost:8787', room: 'demo' })
 */
export async function joinRoom(options: NodeJoinOptions): Promise<Room> {
  const platform = await loadWebRtc(options.webrtc)
  return join(options, {
    platform,
    codeRuntime: async (code) => {
      const host = new NodeWorkerHost({ prewarm: code.prewarm ?? false })
      return {
        host,
        store:
          code.store ?? createDirectoryStore(code.directory ?? joinPath(tmpdir(), 'peerject-code')),
        close: () => host.close(),
      }
    },
  })
}
