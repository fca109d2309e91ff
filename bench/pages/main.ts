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
  side: BenchSide | undefined
  peerjs: PeerJsBinarySide | undefined
  /** Joins the peerject room and the raw room; returns nothing (the side goes to `side`). */
  start(signaling: string, room: string): Promise<void>
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
  side: undefined,
  peerjs: undefined,
  async start(signaling, room) {
    this.side = await BenchSide.create({ joinRoom, platform, signaling, room })
  },
  async startPeerJs(server) {
    this.peerjs = await PeerJsBinarySide.create(server)
    return this.peerjs.id()
  },
}
window.benchReady = true
