/**
 * node-datachannel whose first `deaf` data channels to open never deliver a message: each opens and
 * sends, but nothing the other peer sends is heard (what a failed handshake looks like). Channels
 * this peer creates and channels it receives count alike; attempts that fail before a channel opens
 * (docs/architecture.md, "Connection attempts") do not count.
 */
import type { WebRtcImplementation } from '../../src/platform.js'
import { loadNodePlatform } from '../../src/node-platform.js'

/** A WebRTC implementation for `joinRoom({ webrtc })`, and how many of its channels opened. */
export interface DeafWebRtc {
  readonly impl: WebRtcImplementation
  /** Data channels opened so far (deaf or not). */
  opened(): number
}

export async function deafWebRtc(deaf: number): Promise<DeafWebRtc> {
  const { webrtc } = await loadNodePlatform('node-datachannel')
  let opened = 0
  const onOpen = (channel: RTCDataChannel): void => {
    if (++opened > deaf) return
    const dispatch = channel.dispatchEvent.bind(channel)
    channel.dispatchEvent = (event) => event.type === 'message' || dispatch(event)
  }
  const Base = webrtc.RTCPeerConnection as unknown as new (
    config?: RTCConfiguration,
  ) => RTCPeerConnection
  class DeafPeerConnection extends Base {
    constructor(config?: RTCConfiguration) {
      super(config)
      // A received channel is open when it arrives; no message is dispatched before this runs.
      this.addEventListener('datachannel', (event) => onOpen(event.channel))
    }

    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init)
      channel.addEventListener('open', () => onOpen(channel), { once: true })
      return channel
    }
  }
  return {
    impl: { ...webrtc, RTCPeerConnection: DeafPeerConnection as typeof RTCPeerConnection },
    opened: () => opened,
  }
}
