/**
 * The Node platform's node-datachannel adapter over real WebRTC (two connections in this process,
 * signaled by hand): a Node offerer is the DTLS client, so the answerer's ClientHello can never
 * reach an offerer that has not applied the answer yet (docs/architecture.md, "Connection time");
 * offers from elsewhere (a browser's `actpass`) are answered as libdatachannel chooses.
 */
import * as ndc from 'node-datachannel/polyfill'
import { afterEach, describe, expect, it } from 'vitest'
import { loadNodePlatform, offererIsDtlsClient } from '../../src/node-platform.js'

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

/** Connects `offerer` to `answerer` (trickle, candidates without node-datachannel's `a=`), returns the SDPs. */
async function connect(
  offerer: Connection,
  answerer: Connection,
): Promise<{ offer: string; answer: string; message: string }> {
  const relay = (from: Connection, to: Connection): void => {
    from.addEventListener('icecandidate', (event) => {
      const candidate = (event as RTCPeerConnectionIceEvent).candidate
      if (candidate === null) return
      void to
        .addIceCandidate({
          candidate: candidate.candidate.replace(/^a=/, ''),
          sdpMid: candidate.sdpMid,
        })
        .catch(() => {})
    })
  }
  relay(offerer, answerer)
  relay(answerer, offerer)
  const channel = offerer.createDataChannel('x')
  const arrived = new Promise<RTCDataChannel>((resolve) =>
    answerer.addEventListener('datachannel', (event) =>
      resolve((event as RTCDataChannelEvent).channel),
    ),
  )
  const offer = await offerer.createOffer()
  await offerer.setLocalDescription(offer)
  await answerer.setRemoteDescription({ type: 'offer', sdp: offer.sdp ?? '' })
  const answer = await answerer.createAnswer()
  await answerer.setLocalDescription(answer)
  await offerer.setRemoteDescription({ type: 'answer', sdp: answer.sdp ?? '' })
  const remote = await arrived
  const message = new Promise<string>((resolve) =>
    remote.addEventListener('message', (event) => resolve(String((event as MessageEvent).data))),
  )
  if (channel.readyState !== 'open') {
    await new Promise((resolve) => channel.addEventListener('open', resolve, { once: true }))
  }
  channel.send('over DTLS')
  return { offer: offer.sdp ?? '', answer: answer.sdp ?? '', message: await message }
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
    const result = await connect(make(webrtc.RTCPeerConnection), make(webrtc.RTCPeerConnection))
    expect(setups(result.offer)).toEqual(['a=setup:active'])
    expect(setups(result.answer)).toEqual(['a=setup:passive'])
    expect(result.message).toBe('over DTLS')
  })

  it('answers an actpass offer (as a browser sends it) as libdatachannel chooses, and works', async () => {
    const { webrtc } = await loadNodePlatform('node-datachannel')
    const Plain = ndc.RTCPeerConnection as unknown as typeof RTCPeerConnection
    const result = await connect(make(Plain), make(webrtc.RTCPeerConnection))
    expect(setups(result.offer)).toEqual(['a=setup:actpass'])
    expect(setups(result.answer)).toEqual(['a=setup:active'])
    expect(result.message).toBe('over DTLS')
  })
})
