/**
 * The Node platform's node-datachannel adapter over real WebRTC (two connections in this process,
 * signaled by hand): a Node offerer is the DTLS client, so the answerer's ClientHello can never
 * reach an offerer that has not applied the answer yet (docs/architecture.md, "Connection time");
 * offers from elsewhere (a browser's `actpass`) are answered as libdatachannel chooses. Also through a
 * room, where simple-peer signals `localDescription` rather than what `createOffer` returned.
 */
import * as ndc from 'node-datachannel/polyfill'
import { afterEach, describe, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import { loadNodePlatform, offererIsDtlsClient } from '../../src/node-platform.js'
import { useSignaling } from '../helpers/signaling.js'
import { waitForPeers } from '../helpers/events.js'

const server = useSignaling()

type Connection = RTCPeerConnection
const opened: Connection[] = []
afterEach(() => {
  for (const connection of opened.splice(0)) connection.close()
})

function make(Implementation: typeof RTCPeerConnection): Connection {
  const connection = new Implementation({ iceServers: [] })
  opened.push(connection)
  return connection
}

const setups = (sdp: string | undefined): string[] => sdp?.match(/^a=setup:\w+/gm) ?? []

/**
 * Connects `offerer` to `answerer` (trickle; candidates without node-datachannel's `a=`, and kept
 * until the receiving side has the remote description, as simple-peer and peerjs do), returns the
 * SDPs and the first message. Rejects if either connection fails.
 */
async function connect(
  offerer: Connection,
  answerer: Connection,
): Promise<{ offer: string; answer: string; message: string }> {
  const ready = new Set<Connection>()
  const waiting = new Map<Connection, RTCIceCandidateInit[]>([
    [offerer, []],
    [answerer, []],
  ])
  const add = (to: Connection, candidate: RTCIceCandidateInit): void => {
    if (ready.has(to)) void to.addIceCandidate(candidate).catch(() => {})
    else waiting.get(to)?.push(candidate)
  }
  const remoteSet = (connection: Connection): void => {
    ready.add(connection)
    for (const candidate of waiting.get(connection)?.splice(0) ?? []) add(connection, candidate)
  }
  const relay = (from: Connection, to: Connection): void => {
    from.addEventListener('icecandidate', (event) => {
      const candidate = (event as RTCPeerConnectionIceEvent).candidate
      if (candidate === null) return
      add(to, { candidate: candidate.candidate.replace(/^a=/, ''), sdpMid: candidate.sdpMid })
    })
  }
  relay(offerer, answerer)
  relay(answerer, offerer)
  const failed = new Promise<never>((_, reject) => {
    for (const connection of [offerer, answerer]) {
      connection.addEventListener('connectionstatechange', () => {
        if (connection.connectionState === 'failed') reject(new Error('the connection failed'))
      })
    }
  })
  return Promise.race([failed, exchange(offerer, answerer, remoteSet)])
}

async function exchange(
  offerer: Connection,
  answerer: Connection,
  remoteSet: (connection: Connection) => void,
): Promise<{ offer: string; answer: string; message: string }> {
  const channel = offerer.createDataChannel('x')
  const arrived = new Promise<RTCDataChannel>((resolve) =>
    answerer.addEventListener('datachannel', (event) =>
      resolve((event as RTCDataChannelEvent).channel),
    ),
  )
  // What is sent is `localDescription` once set, as simple-peer (and most apps) signal it.
  await offerer.setLocalDescription(await offerer.createOffer())
  const offer = offerer.localDescription
  await answerer.setRemoteDescription({ type: 'offer', sdp: offer?.sdp ?? '' })
  remoteSet(answerer)
  await answerer.setLocalDescription(await answerer.createAnswer())
  const answer = answerer.localDescription
  await offerer.setRemoteDescription({ type: 'answer', sdp: answer?.sdp ?? '' })
  remoteSet(offerer)
  const remote = await arrived
  const message = new Promise<string>((resolve) =>
    remote.addEventListener('message', (event) => resolve(String((event as MessageEvent).data))),
  )
  if (channel.readyState !== 'open') {
    await new Promise((resolve) => channel.addEventListener('open', resolve, { once: true }))
  }
  channel.send('over DTLS')
  return { offer: offer?.sdp ?? '', answer: answer?.sdp ?? '', message: await message }
}

/**
 * {@link connect} with up to three attempts of 10 s each. libdatachannel's own early-failure race
 * (docs/architecture.md, "Connection attempts") can leave a connection stuck in `connecting`, with
 * no event to wait for: the mesh retries such attempts too.
 */
async function connectPair(
  Offerer: typeof RTCPeerConnection,
  Answerer: typeof RTCPeerConnection,
): Promise<{ offer: string; answer: string; message: string }> {
  for (let attempt = 1; ; attempt++) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no connection within 10 s')), 10_000)
    })
    try {
      return await Promise.race([connect(make(Offerer), make(Answerer)), stuck])
    } catch (error) {
      if (attempt === 3) throw error
    } finally {
      clearTimeout(timer)
    }
  }
}

describe('offererIsDtlsClient', () => {
  it('turns the setup line actpass into active and touches nothing else', () => {
    const sdp =
      'v=0\r\na=setup:actpass\r\na=x-setup:actpass\r\na=setup:passive\r\na=fingerprint:sha-256 AB\r\n'
    expect(offererIsDtlsClient(sdp)).toBe(
      'v=0\r\na=setup:active\r\na=x-setup:actpass\r\na=setup:passive\r\na=fingerprint:sha-256 AB\r\n',
    )
    expect(offererIsDtlsClient('a=setup:actpass\na=mid:0')).toBe('a=setup:active\na=mid:0')
  })
})

describe('the node-datachannel adapter over real WebRTC', () => {
  it('offers setup:active, so the answer is passive, and the connection carries data', async () => {
    const { webrtc } = await loadNodePlatform('node-datachannel')
    const result = await connectPair(webrtc.RTCPeerConnection, webrtc.RTCPeerConnection)
    expect(setups(result.offer)).toEqual(['a=setup:active'])
    expect(setups(result.answer)).toEqual(['a=setup:passive'])
    expect(result.message).toBe('over DTLS')
  })

  it('answers an actpass offer (as a browser sends it) as libdatachannel chooses, and works', async () => {
    const { webrtc } = await loadNodePlatform('node-datachannel')
    const Plain = ndc.RTCPeerConnection as unknown as typeof RTCPeerConnection
    const result = await connectPair(Plain, webrtc.RTCPeerConnection)
    expect(setups(result.offer)).toEqual(['a=setup:actpass'])
    expect(setups(result.answer)).toEqual(['a=setup:active'])
    expect(result.message).toBe('over DTLS')
  })
})

describe('through a room (simple-peer signals the local description)', () => {
  it('every offer a Node peer receives says setup:active and every answer passive', async () => {
    const { webrtc } = await loadNodePlatform('node-datachannel')
    const received: string[] = []
    const Adapted = webrtc.RTCPeerConnection
    class Recording extends Adapted {
      override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
        received.push(`${description.type} ${setups(description.sdp).join(' ')}`)
        return super.setRemoteDescription(description)
      }
    }
    const impl = { ...webrtc, RTCPeerConnection: Recording }
    const a = await joinRoom({ signaling: server.url, room: 'dtls-roles', webrtc: impl })
    server.rooms.push(a)
    const b = await joinRoom({ signaling: server.url, room: 'dtls-roles', webrtc: impl })
    server.rooms.push(b)
    await Promise.all([waitForPeers(a, [b.self]), waitForPeers(b, [a.self])])
    expect(received.length).toBeGreaterThanOrEqual(2)
    for (const line of received) {
      expect(line).toBe(
        line.startsWith('offer') ? 'offer a=setup:active' : 'answer a=setup:passive',
      )
    }
  })
})
