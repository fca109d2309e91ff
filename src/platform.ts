/**
 * What differs between a browser and Node: where WebRTC and WebSocket come from, and which flow
 * control the data channel supports. `src/index.ts` builds the browser platform from globals;
 * `src/node.ts` builds the Node one from node-datachannel (default) or @roamhq/wrtc.
 */

/** The WebRTC constructors an adapter needs (the shape of `wrtc` / `node-datachannel/polyfill`). */
export interface WebRtcImplementation {
  readonly RTCPeerConnection: typeof RTCPeerConnection
  readonly RTCSessionDescription: typeof RTCSessionDescription
  readonly RTCIceCandidate: typeof RTCIceCandidate
}

/** Everything environment-specific that the room and its adapters use. */
export interface Platform {
  /** `browser` or `node`: for messages and defaults only, never for feature tests. */
  readonly name: 'browser' | 'node'
  /** WebRTC implementation. */
  readonly webrtc: WebRtcImplementation
  /** WebSocket constructor for the signaling client. */
  readonly WebSocket: typeof WebSocket
  /**
   * Poll interval for `bufferedAmount` when the implementation never fires `bufferedamountlow`
   * (@roamhq/wrtc); `undefined` when the event works (browsers, node-datachannel).
   */
  readonly bufferedAmountPollMs?: number
  /** Largest message one data channel message may carry on this implementation. */
  readonly maxChannelMessageSize: number
}
