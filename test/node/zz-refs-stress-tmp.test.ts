import { expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { Room } from '../../src/index.js'
import type { WebRtcImplementation } from '../../src/platform.js'
import { startSignaling } from '../helpers/signaling.js'
import { waitForPeers } from '../helpers/events.js'

const all: any[] = []
async function repaired(): Promise<WebRtcImplementation> {
  const ndc = (await import('node-datachannel/polyfill')) as unknown as WebRtcImplementation
  const Base = ndc.RTCPeerConnection as unknown as new (c?: RTCConfiguration) => EventTarget & {
    createOffer(o?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>
    createAnswer(o?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>
    setLocalDescription(d?: RTCLocalSessionDescriptionInit): Promise<void>
    setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void>
  }
  class Fixed extends Base {
    #local = false
    #remote = false
    #relaying = false
    readonly #held: Event[] = []
    readonly tag = Math.floor(performance.now()) + '-' + crypto.randomUUID().slice(0, 4)
    log: string[] = []
    constructor(c?: RTCConfiguration) {
      super(c)
      const t0 = performance.now()
      for (const ev of ['connectionstatechange', 'iceconnectionstatechange', 'signalingstatechange', 'icegatheringstatechange']) {
        this.addEventListener(ev, () => this.log.push(`${Math.round(performance.now() - t0)} ${ev} ${(this as any).connectionState}/${(this as any).iceConnectionState}/${(this as any).signalingState}/${(this as any).iceGatheringState}`))
      }
      all.push(this)
    }
    override async addIceCandidate(c?: RTCIceCandidateInit) {
      this.log.push(`addIce ${(this as any).connectionState} ${(this as any).signalingState}`)
      return (super.addIceCandidate as any)(c)
    }
    override close() { this.log.push('close() ' + new Error().stack?.split('\n').slice(2, 5).join(' | ')); return (super.close as any)() }
    override async createOffer(o?: RTCOfferOptions) { const d = await super.createOffer(o); return { type: d.type, sdp: d.sdp ?? '' } }
    override async createAnswer(o?: RTCAnswerOptions) { const d = await super.createAnswer(o); return { type: d.type, sdp: d.sdp ?? '' } }
    override async setLocalDescription(d?: RTCLocalSessionDescriptionInit) { this.log.push('setLocal ' + d?.type); await super.setLocalDescription(d); this.#local = true; this.#release() }
    override async setRemoteDescription(d: RTCSessionDescriptionInit) { this.log.push('setRemote ' + d.type); await super.setRemoteDescription(d); this.#remote = true; this.#release() }
    override dispatchEvent(event: Event): boolean {
      if (event.type !== 'icecandidate' || this.#relaying || process.env.FIX !== '1') return super.dispatchEvent(event)
      this.#held.push(event)
      return true
    }
    #release() {
      if (!this.#local || !this.#remote) return
      setTimeout(() => { this.#relaying = true; for (const e of this.#held.splice(0)) super.dispatchEvent(e) }, 0)
    }
  }
  return { ...ndc, RTCPeerConnection: Fixed as unknown as typeof RTCPeerConnection }
}

it('stress', async () => {
  const server = await startSignaling()
  const webrtc = await repaired()
  let failures = 0
  for (let round = 0; round < 30; round++) {
    const name = `s-${round}`
    const rooms: Room[] = []
    for (let i = 0; i < 3; i++) rooms.push(await joinRoom({ signaling: server.url, room: name, connectTimeoutMs: 8000, ...(webrtc ? { webrtc } : {}) }))
    let failed = false
    for (const r of rooms) r.on('error', (e) => { failed = true; console.log('round', round, e.code, String(((e.cause as Error)?.cause as Error)?.message)) })
    await Promise.race([
      Promise.all(rooms.map((r) => waitForPeers(r, rooms.filter((o) => o !== r).map((o) => o.self)))),
      new Promise((resolve) => { for (const r of rooms) r.on('leave', (_p, reason) => reason && resolve(undefined)) }),
    ])
    if (failed) { failures++; for (const pc of all) if (pc.log.some((l: string) => l.includes('failed') || l.includes('closed'))) console.log(pc.tag, pc.log.join('\n   ')) }
    all.length = 0
    for (const r of rooms) r.leave()
  }
  await server.close()
  console.log('failures', failures)
  expect(true).toBe(true)
}, 300_000)
