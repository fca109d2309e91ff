/**
 * The Chromium bench page: peerject from src/ (as an app imports it), a {@link BenchSide} and a
 * PeerJS side, put on `window.bench` for the Node orchestrator (`bench/browser-env.ts`).
 */
import { joinRoom } from '../../src/index.js'
import type { Platform } from '../../src/platform.js'
import { PeerJsBinarySide } from '../peerjs-binary.js'
import type { PeerServerAddress } from '../peerjs-binary.js'
import { BenchSide } from '../side.js'

/** What the page offers the orchestrator. */
export interface BenchPage {
  /** Sides by name: `main` (default adapter), `peerjs` (PeerJS adapter). */
  sides: Record<string, BenchSide | undefined>
  peerjs: PeerJsBinarySide | undefined
  /**
   * Joins the peerject room (through `peerjs` when given, else the signaling server) and the raw
   * room; the side goes to `sides[name]`.
   */
  start(name: string, signaling: string, room: string, peerjs?: PeerServerAddress): Promise<void>
  /** Registers a PeerJS peer; returns its id. */
  startPeerJs(server: PeerServerAddress): Promise<string>
}

declare global {
  interface Window {
    bench: BenchPage
    benchReady: boolean
  }
}

/** The platform `joinRoom` builds in browsers (src/index.ts keeps its own private). */
const platform: Platform = {
  name: 'browser',
  webrtc: { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate },
  WebSocket,
  maxChannelMessageSize: 256 * 1024,
}

window.bench = {
  sides: {},
  peerjs: undefined,
  async start(name, signaling, room, peerjs) {
    const join =
      peerjs === undefined
        ? joinRoom
        : (options: { room: string }) => joinRoom({ room: options.room, peerjs })
    this.sides[name] = await BenchSide.create({ joinRoom: join, platform, signaling, room })
  },
  async startPeerJs(server) {
    this.peerjs = await PeerJsBinarySide.create(server)
    return this.peerjs.id()
  },
}
window.benchReady = true
