/**
 * The room over memory transports (a fake connector): presence and the values API's edge cases —
 * messages() iterators, broadcast rules, handshake failures, a peer advertising an unusable
 * channel, and error codes after leaving. The same behaviour over real WebRTC is in test/node/.
 */
import { describe, expect, it } from 'vitest'
import { Room } from '../../src/room.js'
import { Emitter } from '../../src/emitter.js'
import type { ConnectorEvents } from '../../src/connector.js'
import { ClassRegistry, Codec } from '../../src/codec/index.js'
import { CodeService, createMemoryStore } from '../../src/code/index.js'
import type { WorkerHost } from '../../src/code/index.js'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import type { Transport } from '../../src/transport/transport.js'
import type { PeerId } from '../../src/ids.js'
import type { Peer } from '../../src/peer.js'
import { PeerjectError } from '../../src/errors.js'

class FakeConnector extends Emitter<ConnectorEvents> {
  constructor(readonly self: PeerId) {
    super()
  }
  async start(): Promise<PeerId> {
    return this.self
  }
  close(): void {}
  open(peer: PeerId, transport: Transport): void {
    this.emit('open', peer, transport)
  }
}

const noWorkers: WorkerHost = {
  start: () => Promise.reject(new PeerjectError('ERR_CODE_LOAD', 'no workers in this test')),
}

function makeRoom(self: string, wireLimits = {}): { room: Room; connector: FakeConnector } {
  const classes = new ClassRegistry()
  const codec = new Codec({ classes })
  const code = new CodeService({ codec, host: noWorkers, store: createMemoryStore() })
  const connector = new FakeConnector(self as PeerId)
  const room = new Room({ name: 'r', connector, codec, classes, code, wireLimits })
  return { room, connector }
}

/** Connects two rooms; resolves when each has the other as a peer. */
async function link(
  x: ReturnType<typeof makeRoom>,
  y: ReturnType<typeof makeRoom>,
): Promise<[Peer, Peer]> {
  const [ta, tb] = createMemoryTransportPair()
  const ready = (room: Room, id: PeerId): Promise<Peer> =>
    new Promise((resolve) => {
      const off = room.on('peer', (peer) => {
        if (peer.id !== id) return
        off()
        resolve(peer)
      })
    })
  const both = Promise.all([ready(x.room, y.connector.self), ready(y.room, x.connector.self)])
  x.connector.open(y.connector.self, ta)
  y.connector.open(x.connector.self, tb)
  return both
}

describe('room.messages()', () => {
  it('ends at once when created after leave()', async () => {
    const { room } = makeRoom('x')
    room.leave()
    expect(await room.messages().next()).toEqual({ value: undefined, done: true })
  })

  it('serves concurrent next() calls in order and ends them all on leave', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    await link(a, b)
    const messages = b.room.messages()
    const first = messages.next()
    const second = messages.next()
    const third = messages.next()
    await a.room.broadcast('m1')
    await a.room.broadcast('m2')
    expect((await first).value?.value).toBe('m1')
    expect((await second).value?.value).toBe('m2')
    b.room.leave()
    expect(await third).toEqual({ value: undefined, done: true })
  })

  it('after a break (return), it is done: messages queued meanwhile are dropped', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    await link(a, b)
    const messages = b.room.messages()
    const arrived = new Promise<void>((resolve) => b.room.once('message', () => resolve()))
    await a.room.broadcast('queued')
    await arrived
    await messages.return?.()
    expect(await messages.next()).toEqual({ value: undefined, done: true })
  })
})

describe('a value nobody listens to', () => {
  it('has its byte streams cancelled: the sender learns it, no stream slot stays held', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b') // no 'message' listener, no messages() loop
    const [toB, toA] = await link(a, b)
    let left = 4 * 1024 * 1024
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left <= 0) {
          controller.close()
          return
        }
        left -= 64 * 1024
        controller.enqueue(new Uint8Array(64 * 1024))
      },
    })
    const error = await toB.send({ body }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_CLOSED' })
    expect((error as Error).message).toContain("no 'message' listener")
    expect(left).toBeGreaterThan(0) // the source stopped early
    expect(toB.wire.stats().openStreams).toBe(0)
    // Frames arrive in order: once a later value is heard, the receiver has seen the abort too.
    const heard = new Promise<void>((resolve) => b.room.once('message', () => resolve()))
    await toB.send('later')
    await heard
    expect(toA.wire.stats().openStreams).toBe(0)
  })
})

describe('room.broadcast', () => {
  it('refuses a byte stream for several peers, before sending anything', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    const c = makeRoom('c')
    await link(a, b)
    await link(a, c)
    const received: unknown[] = []
    b.room.on('message', (value) => received.push(value))
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array([1])
    }
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2]))
        controller.close()
      },
    })
    for (const value of [chunks(), { body: stream }]) {
      const error = await a.room.broadcast(value).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PeerjectError)
      expect((error as PeerjectError).code).toBe('ERR_UNSERIALIZABLE')
    }
    expect(stream.locked).toBe(false)
    await a.room.broadcast('after') // the sessions are fine
    await new Promise<void>((resolve) => b.room.once('message', () => resolve()))
    expect(received).toEqual(['after'])
  })

  it('refuses a byte stream with a single peer too (a room may grow)', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    await link(a, b)
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1]))
        controller.close()
      },
    })
    const error = await a.room.broadcast({ body: stream }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    expect((error as Error).message).toContain('value.body is a byte stream')
    expect(stream.locked).toBe(false)
  })

  it('a peer that cannot take the value fails the broadcast naming it; the others get it', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    const small = makeRoom('small', { maxMessageBytes: 64 * 1024 })
    await link(a, b)
    await link(a, small)
    const arrived = new Promise<unknown>((resolve) => b.room.once('message', resolve))
    const error = await a.room.broadcast(new Uint8Array(100 * 1024)).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_TOO_LARGE' })
    expect((error as Error).message).toContain('reached 1 of 2 peers; peer small did not get it')
    expect(((await arrived) as Uint8Array).byteLength).toBe(100 * 1024)
  })

  it('reports progress summed over the peers, monotonic, ending at the total', async () => {
    const a = makeRoom('a')
    await link(a, makeRoom('b'))
    await link(a, makeRoom('c'))
    const seen: Array<[number, number]> = []
    await a.room.broadcast(new Uint8Array(600 * 1024), {
      onProgress: (sent, total) => seen.push([sent, total]),
    })
    const last = seen.at(-1) as [number, number]
    expect(last[0]).toBe(last[1])
    expect(last[1]).toBeGreaterThan(2 * 600 * 1024)
    // One total from the first report on (both peers' sizes), never going backwards, and 100%
    // reported once.
    expect(seen.every(([, total]) => total === last[1])).toBe(true)
    for (let i = 1; i < seen.length; i++) {
      expect((seen[i] as [number, number])[0]).toBeGreaterThanOrEqual(
        (seen[i - 1] as [number, number])[0],
      )
    }
    expect(seen.filter(([sent, total]) => sent === total)).toHaveLength(1)
    // Small values too: the first peer done is not "100%".
    const small: Array<[number, number]> = []
    await a.room.broadcast('hello', { onProgress: (sent, total) => small.push([sent, total]) })
    expect(small.filter(([sent, total]) => sent === total)).toHaveLength(1)
  })

  it('a value no peer can take detaches nothing from its transfer list', async () => {
    const a = makeRoom('a')
    await link(a, makeRoom('b'))
    const buffer = new ArrayBuffer(1024)
    const error = await a.room
      .broadcast({ f: () => 1, data: new Uint8Array(buffer) }, { transfer: [buffer] })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    expect(buffer.byteLength).toBe(1024)
  })
})

describe('presence edge cases', () => {
  it('a peer whose handshake never completes gives an error and a leave', async () => {
    const { room, connector } = makeRoom('a', { helloTimeoutMs: 50 })
    const [ta] = createMemoryTransportPair() // the other end never speaks
    const events: string[] = []
    const left = new Promise<unknown>((resolve) =>
      room.on('leave', (peer, reason) => {
        events.push('leave')
        resolve({ peer, code: reason?.code })
      }),
    )
    room.on('error', () => events.push('error'))
    connector.open('silent' as PeerId, ta)
    expect(await left).toEqual({ peer: 'silent', code: 'ERR_CONNECT' })
    expect(events).toEqual(['error', 'leave'])
    expect(room.peers.size).toBe(0)
  })

  it("a failed handshake goes to the connector's retry first; when it takes it, nothing is reported", async () => {
    const { room, connector } = makeRoom('a', { helloTimeoutMs: 50 })
    const offered: Array<{ peer: PeerId; transport: Transport; code: string }> = []
    let answer = true
    const retried = new Promise<void>((resolve) => {
      Object.assign(connector, {
        retry(peer: PeerId, transport: Transport, error: PeerjectError): boolean {
          offered.push({ peer, transport, code: error.code })
          resolve()
          return answer
        },
      })
    })
    const events: string[] = []
    room.on('leave', () => events.push('leave'))
    room.on('error', () => events.push('error'))
    const [silent] = createMemoryTransportPair()
    connector.open('silent' as PeerId, silent)
    await retried
    expect(offered).toEqual([{ peer: 'silent', transport: silent, code: 'ERR_TIMEOUT' }])
    // The connector dials again: this time the peer answers.
    const b = makeRoom('silent')
    const [ta, tb] = createMemoryTransportPair()
    const met = new Promise<Peer>((resolve) => room.on('peer', resolve))
    connector.open('silent' as PeerId, ta)
    b.connector.open('a' as PeerId, tb)
    expect((await met).id).toBe('silent')
    expect(events).toEqual([])
    // A connector that declines: the error and the leave as without retry.
    answer = false
    const [other] = createMemoryTransportPair()
    const left = new Promise<void>((resolve) => room.on('leave', () => resolve()))
    connector.open('other' as PeerId, other)
    await left
    expect(events).toEqual(['error', 'leave'])
    expect(offered.map((o) => o.peer)).toEqual(['silent', 'other'])
  })

  it('a peer advertising a channel too small for frames is refused without a crash', async () => {
    const { room, connector } = makeRoom('a')
    const [ta] = createMemoryTransportPair({ maxMessageSize: 100 })
    const left = new Promise<unknown>((resolve) =>
      room.on('leave', (peer, reason) => resolve({ peer, code: reason?.code })),
    )
    connector.open('tiny' as PeerId, ta)
    expect(await left).toEqual({ peer: 'tiny', code: 'ERR_CONNECT' })
    expect(ta.state).toBe('closed')
  })

  it('after your own leave(), peer operations reject ERR_CLOSED (not ERR_PEER_LEFT)', async () => {
    const a = makeRoom('a')
    const b = makeRoom('b')
    const [toB] = await link(a, b)
    a.room.leave()
    const error = await toB.send(1).catch((e: unknown) => e)
    expect((error as PeerjectError).code).toBe('ERR_CLOSED')
  })
})
