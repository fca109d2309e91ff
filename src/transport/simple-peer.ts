/**
 * The default adapter: one simple-peer connection per remote peer, wrapped into a {@link Transport}.
 * This is the only file that imports simple-peer. It imports the package's self-contained bundle
 * through the `#simple-peer` subpath import (package.json `imports`) so that a Vite app needs no
 * `global`/`process`/`events` polyfills (docs/architecture.md, "simple-peer").
 *
 * Data path: bytes go straight to the RTCDataChannel (`send`, `bufferedAmount`, `bufferedamountlow`)
 * through {@link ChannelTransport}; incoming messages arrive through simple-peer's `data` event
 * (simple-peer always keeps its own channel handler, and reading through it keeps its stream from
 * buffering). Signaling data is relayed by the caller (the mesh) as plain JSON.
 */
import SimplePeer from '#simple-peer'
import { PeerjectError } from '../errors.js'
import type { Platform } from '../platform.js'
import { ChannelTransport, toBytes } from './data-channel.js'
import type { DataChannelLike } from './data-channel.js'

/** Options for {@link connectSimplePeer}. */
export interface SimplePeerOptions {
  /** True on the side that sends the offer (decided by the mesh, never both). */
  readonly initiator: boolean
  readonly platform: Platform
  /** Passed to RTCPeerConnection (ICE servers etc.). */
  readonly rtcConfig?: RTCConfiguration
  /** Called with every piece of signaling data to relay to the other side. */
  readonly onSignal: (data: unknown) => void
  /** Rejects `transport` with ERR_CONNECT when the channel is not open in time. Default 20 s. */
  readonly connectTimeoutMs?: number
}

/** A connection being established: feed it the other side's signals; await `transport`. */
export interface SimplePeerConnection {
  /** Applies one piece of signaling data from the other side. Bad data fails the connection. */
  signal(data: unknown): void
  /** Resolves once the data channel is open. */
  readonly transport: Promise<ChannelTransport>
  /** Tears the connection down (before or after it opened); `reason` reaches the transport's listener. */
  destroy(reason?: PeerjectError): void
}

/** Internals of simple-peer read here and nowhere else: the channel and the connection. */
interface SimplePeerInternals {
  readonly _channel?: DataChannelLike & { readonly readyState: string }
  readonly _pc?: { readonly sctp?: { readonly maxMessageSize?: number } | null }
  readonly _iceCompleteTimer?: ReturnType<typeof setTimeout> | null
}

/** Starts a simple-peer connection. */
export function connectSimplePeer(options: SimplePeerOptions): SimplePeerConnection {
  const peer = new SimplePeer({
    initiator: options.initiator,
    trickle: true,
    config: options.rtcConfig ?? { iceServers: [] },
    channelConfig: { ordered: true },
    wrtc: options.platform.webrtc,
    objectMode: false,
  })
  let transport: ChannelTransport | undefined
  let settled = false
  let destroyed = false

  const timeoutMs = options.connectTimeoutMs ?? 20_000
  const opened = new Promise<ChannelTransport>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new PeerjectError('ERR_CONNECT', `the data channel did not open within ${timeoutMs} ms`))
    }, timeoutMs)
    const fail = (error: PeerjectError): void => {
      clearTimeout(timer)
      if (!settled) {
        settled = true
        reject(error)
      }
      transport?.closed(error)
      if (!destroyed) {
        destroyed = true
        peer.destroy()
      }
    }
    peer.on('signal', (data: unknown) => options.onSignal(data))
    peer.on('connect', () => {
      clearTimeout(timer)
      const internals = peer as unknown as SimplePeerInternals
      const channel = internals._channel
      if (channel === undefined || settled) return
      const sctpMax = internals._pc?.sctp?.maxMessageSize
      const maxMessageSize = Math.min(
        options.platform.maxChannelMessageSize,
        sctpMax !== undefined && sctpMax > 0 ? sctpMax : 65_536,
      )
      transport = new ChannelTransport(channel, {
        maxMessageSize,
        ...(options.platform.bufferedAmountPollMs === undefined
          ? {}
          : { pollMs: options.platform.bufferedAmountPollMs }),
        closeUnderlying: () => {
          destroyed = true
          peer.destroy()
        },
        // The initiator created the channel: the other side waits for its first message.
        speaksSecond: !options.initiator,
      })
      for (const bytes of early.splice(0)) transport.receive(bytes)
      settled = true
      resolve(transport)
    })
    // The channel can deliver messages before simple-peer reports `connect` (it waits for ICE
    // stats); keep them for the transport instead of losing the other side's first frames.
    const early: Uint8Array[] = []
    peer.on('data', (data: unknown) => {
      const bytes = toBytes(data)
      if (bytes === undefined) return
      if (transport === undefined) early.push(bytes)
      else transport.receive(bytes)
    })
    peer.on('close', () => {
      // simple-peer leaves its ICE-complete timer (5 s) running after it is destroyed, which kept
      // a Node process alive that long after `room.leave()`.
      const timer = (peer as unknown as SimplePeerInternals)._iceCompleteTimer
      if (timer !== undefined && timer !== null) clearTimeout(timer)
      fail(new PeerjectError('ERR_PEER_LEFT', 'the peer closed the connection'))
    })
    peer.on('error', (error: unknown) => {
      fail(
        new PeerjectError('ERR_PEER_LEFT', 'the connection to the peer failed', { cause: error }),
      )
    })
  })

  return {
    signal(data: unknown): void {
      if (destroyed) return
      try {
        peer.signal(normalizeSignal(data) as SimplePeer.SignalData)
      } catch (error) {
        peer.destroy(error instanceof Error ? error : new Error(String(error)))
      }
    },
    transport: opened,
    destroy(reason?: PeerjectError): void {
      if (transport !== undefined) transport.close(reason)
      else if (!destroyed) {
        destroyed = true
        peer.destroy()
      }
    },
  }
}

/**
 * Some implementations (node-datachannel) emit candidate strings prefixed with `a=`; browsers and
 * the spec use the bare `candidate:` form. Strip it so any pair of implementations interoperates.
 */
function normalizeSignal(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data
  const candidate = (data as { candidate?: unknown }).candidate
  if (typeof candidate !== 'object' || candidate === null) return data
  const line = (candidate as { candidate?: unknown }).candidate
  if (typeof line !== 'string' || !line.startsWith('a=')) return data
  return { ...data, candidate: { ...candidate, candidate: line.slice(2) } }
}
