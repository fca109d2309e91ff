/**
 * The Node↔Node environment: both sides in this process, node-datachannel, the real signaling
 * server (started by the caller on port 0).
 */
import { randomUUID } from 'node:crypto'

import { joinRoom } from '../src/node.js'
import type { PeerJsServerOptions, Room } from '../src/node.js'
import type { Platform, WebRtcImplementation } from '../src/platform.js'
import type { Env } from './env.js'
import { localHandle, pair } from './env.js'
import { BenchSide } from './side.js'

/**
 * The platform `joinRoom` builds for node-datachannel (src/node.ts keeps its own private): the
 * raw baseline connector must run on the very same implementation and message size.
 */
export async function nodePlatform(): Promise<Platform> {
  const { WebSocket } = await import('ws')
  const ndc = (await import('node-datachannel/polyfill')) as unknown as WebRtcImplementation
  const Base = ndc.RTCPeerConnection as unknown as new (configuration?: RTCConfiguration) => {
    createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>
    createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>
  }
  // node-datachannel's descriptions are read-only; simple-peer edits them (as in src/node.ts).
  class PlainDescriptionPeerConnection extends Base {
    override async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createOffer(options)
      return { type: description.type, sdp: description.sdp ?? '' }
    }
    override async createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit> {
      const description = await super.createAnswer(options)
      return { type: description.type, sdp: description.sdp ?? '' }
    }
  }
  return {
    name: 'node',
    webrtc: {
      ...ndc,
      RTCPeerConnection: PlainDescriptionPeerConnection as typeof RTCPeerConnection,
    },
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    maxChannelMessageSize: 256 * 1024,
  }
}

/**
 * Two Node sides in one room: through the signaling server, or, with `peerjs`, through a
 * PeerServer and the PeerJS adapter (the raw link still goes through the signaling server).
 */
export async function startNodeEnv(signaling: string, peerjs?: PeerJsServerOptions): Promise<Env> {
  const platform = await nodePlatform()
  const room = `bench-${randomUUID()}`
  const join =
    peerjs === undefined
      ? joinRoom
      : (options: { room: string }): Promise<Room> => joinRoom({ room: options.room, peerjs })
  const options = { joinRoom: join, platform, signaling, room }
  const sideA = await BenchSide.create(options)
  const sideB = await BenchSide.create(options).catch((error: unknown) => {
    sideA.close()
    throw error
  })
  const a = localHandle(sideA)
  const b = localHandle(sideB)
  try {
    const info = await pair(a, b)
    return {
      name: peerjs === undefined ? 'Node↔Node' : 'Node↔Node over the PeerJS adapter',
      a,
      b,
      info,
      async close() {
        sideA.close()
        sideB.close()
      },
    }
  } catch (error) {
    sideA.close()
    sideB.close()
    throw error
  }
}
