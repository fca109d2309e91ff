/**
 * Hostile and broken clients: malformed frames, oversized frames, floods, quotas, dead sockets.
 * Each test also checks that a well-behaved client on the same server is unaffected.
 */
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, TestClient } from './helpers.js'

const harness = new Harness()
afterEach(() => harness.cleanup())

describe('signaling server: malformed messages', () => {
  it.each([
    ['not JSON', '{"type":"join",', /not valid JSON/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
    ['a JSON string', '"join"', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['an unknown type', '{"type":"hello"}', /unknown message type "hello"/],
    ['no type', '{"room":"r"}', /unknown message type undefined/],
    ['join without room', '{"type":"join"}', /field "room" is missing/],
    ['join with an empty room', '{"type":"join","room":""}', /field "room"/],
    ['join with a numeric room', '{"type":"join","room":7}', /field "room" expected string/],
    ['join with a non-string token', '{"type":"join","room":"r","token":1}', /field "token"/],
    ['signal without to', '{"type":"signal","room":"r","data":1}', /field "to" is missing/],
    ['signal without data', '{"type":"signal","room":"r","to":"x"}', /field "data" is missing/],
    ['leave with a room object', '{"type":"leave","room":{}}', /field "room"/],
    [
      'signal data nested 6,000 deep (it could not be forwarded)',
      `{"type":"signal","room":"r","to":"x","data":${'['.repeat(6000)}${']'.repeat(6000)}}`,
      /field "data" is nested deeper than 32 levels/,
    ],
    [
      'signal data of 2,000 tiny values (cheap to send, costly to check and forward)',
      `{"type":"signal","room":"r","to":"x","data":[${'{},'.repeat(1999)}{}]}`,
      /field "data" .*holds more than 1000 values/,
    ],
  ])('answers %s with ERR_BAD_MESSAGE and keeps the connection', async (_name, frame, reason) => {
    const server = await harness.server()
    const a = await harness.client(server)
    a.send(frame)
    const error = await a.error('ERR_BAD_MESSAGE')
    expect(error.message).toMatch(reason)
    expect(await a.join('still-works')).toMatchObject({ type: 'joined' })
  })

  it('refuses binary frames', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    a.ws.send(Buffer.from(JSON.stringify({ type: 'join', room: 'r' })))
    expect((await a.error('ERR_BAD_MESSAGE')).message).toMatch(/binary frames/)
    expect(server.stats().rooms).toBe(0)
  })

  it('keeps only known fields: __proto__ and extra keys never reach the server state', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    await b.join('r')
    a.send('{"type":"join","room":"r","__proto__":{"polluted":true},"constructor":{"x":1}}')
    await a.next('joined')
    a.send({ type: 'signal', room: 'r', to: b.id, data: { __proto__: 1 }, extra: 'dropped' })
    const relayed = await b.next('signal')
    expect(Object.keys(relayed).sort()).toEqual(['data', 'from', 'room', 'type'])
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })
})

describe('signaling server: size limit', () => {
  it('answers a frame over maxMessageBytes with ERR_TOO_LARGE, then closes it (1009)', async () => {
    const server = await harness.server({ limits: { maxMessageBytes: 1024 } })
    const a = await harness.client(server)
    const b = await harness.client(server)
    await a.join('r')
    await b.join('r')
    a.send({ type: 'join', room: 'x'.repeat(1100) })
    const error = await a.error('ERR_TOO_LARGE')
    expect(error.message).toMatch(/exceeds maxMessageBytes \(1 KiB\)/)
    expect((await a.closed).code).toBe(1009)
    expect(await b.next('peer-left')).toMatchObject({ peer: a.id })
    expect((await b.join('r')).peers).toEqual([])
  })

  it('cuts off a frame over twice the limit from its header (close 1009)', async () => {
    const server = await harness.server({ limits: { maxMessageBytes: 1024 } })
    const a = await harness.client(server)
    a.send('x'.repeat(64 * 1024))
    expect((await a.closed).code).toBe(1009)
    const b = await harness.client(server)
    await b.join('r')
  })

  it('accepts a frame of exactly maxMessageBytes', async () => {
    const server = await harness.server({ limits: { maxMessageBytes: 1024 } })
    const a = await harness.client(server)
    const frame = JSON.stringify({ type: 'join', room: 'r', token: '' })
    a.send(frame.replace('"token":""', `"token":"${'t'.repeat(1024 - frame.length)}"`))
    await a.next('joined')
  })
})

describe('signaling server: rate limit', () => {
  it('drops a flood with ERR_RATE_LIMITED, then closes it (1008), while others keep working', async () => {
    const server = await harness.server({ limits: { messagesPerSecond: 5, burst: 20 } })
    const flooder = await harness.client(server)
    const b = await harness.client(server)
    await flooder.join('r')
    await b.join('r')
    // 30 messages at once: 20 fit the burst (minus the join), the rest are dropped.
    for (let i = 0; i < 30; i++) flooder.send({ type: 'leave', room: 'elsewhere' })
    const limited = await flooder.error('ERR_RATE_LIMITED')
    expect(limited.message).toMatch(/more than 5 messages\/s \(burst 20\)/)
    // During the flood, a newcomer joins and completes a signal round trip with b.
    const c = await harness.client(server)
    expect([...(await c.join('r')).peers].sort()).toEqual([flooder.id, b.id].sort())
    c.send({ type: 'signal', room: 'r', to: b.id, data: 'offer' })
    expect(await b.next('signal')).toMatchObject({ from: c.id, data: 'offer' })
    b.send({ type: 'signal', room: 'r', to: c.id, data: 'answer' })
    expect(await c.next('signal')).toMatchObject({ from: b.id, data: 'answer' })
    // The flooder keeps going: 2 × burst drops close it, and its room hears it left.
    for (let i = 0; i < 60; i++) flooder.send({ type: 'leave', room: 'elsewhere' })
    expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' })
    await b.next('peer-left', (m) => m.peer === flooder.id)
    await c.next('peer-left', (m) => m.peer === flooder.id)
  })
})

describe('signaling server: quotas', () => {
  it('refuses a join beyond maxPeersPerRoom with ERR_ROOM_FULL', async () => {
    const server = await harness.server({ limits: { maxPeersPerRoom: 2 } })
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => harness.client(server)))
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable')
    await a.join('r')
    await b.join('r')
    await expect(c.join('r')).rejects.toThrow(
      /ERR_ROOM_FULL: room "r" is full \(maxPeersPerRoom 2\)/,
    )
    expect(await c.join('other')).toMatchObject({ peers: [] })
    b.send({ type: 'leave', room: 'r' })
    await a.next('peer-left')
    expect((await c.join('r')).peers).toEqual([a.id])
  })

  it('refuses a join beyond maxRoomsPerConnection with ERR_QUOTA', async () => {
    const server = await harness.server({ limits: { maxRoomsPerConnection: 2 } })
    const a = await harness.client(server)
    await a.join('one')
    await a.join('two')
    await expect(a.join('three')).rejects.toThrow(/ERR_QUOTA: .*maxRoomsPerConnection/)
    a.send({ type: 'leave', room: 'one' })
    await a.join('three')
  })

  it('refuses a room name over maxRoomNameLength with ERR_BAD_MESSAGE', async () => {
    const server = await harness.server({ limits: { maxRoomNameLength: 8 } })
    const a = await harness.client(server)
    a.send({ type: 'join', room: '123456789' })
    expect((await a.error('ERR_BAD_MESSAGE')).message).toMatch(/maxRoomNameLength \(8\)/)
    await a.join('12345678')
  })

  it('refuses a connection beyond maxConnections with ERR_QUOTA and close 1013', async () => {
    const server = await harness.server({ limits: { maxConnections: 1 } })
    const a = await harness.client(server)
    const extra = harness.track(await TestClient.open(server.url))
    expect((await extra.error('ERR_QUOTA')).message).toMatch(/maxConnections \(1\)/)
    expect((await extra.closed).code).toBe(1013)
    expect(extra.all('welcome')).toEqual([])
    await a.join('r')
    expect(server.stats().peers).toBe(1)
  })
})

describe('signaling server: slow readers', () => {
  it('drops signals to a peer that stops reading and tells the sender; it cuts off the reader only when server messages cannot get through', async () => {
    const server = await harness.server({
      limits: { maxBufferedBytes: 64 * 1024, messagesPerSecond: 1e9, burst: 10_000 },
    })
    const sender = await harness.client(server)
    const stalled = await harness.client(server)
    await sender.join('r')
    await stalled.join('r')
    // Stop reading: the kernel buffers fill, then the server's send queue grows.
    ;(stalled.ws as unknown as { _socket: Socket })._socket.pause()
    const data = 'x'.repeat(12 * 1024)
    const slowedDown = sender.next(
      'error',
      (m) => m.code === 'ERR_RATE_LIMITED' && /not reading fast enough/.test(m.message),
    )
    let refused = false
    void slowedDown.then(() => (refused = true))
    // Send in batches, yielding to the event loop, until the server stops relaying.
    for (let sent = 0; !refused && sent < 4_000; sent += 20) {
      for (let i = 0; i < 20; i++) sender.send({ type: 'signal', room: 'r', to: stalled.id, data })
      await sender.pingPong()
    }
    expect(await slowedDown).toMatchObject({ room: 'r', peer: stalled.id })
    // A sender cannot get a reader cut off: it is still in the room.
    expect(server.stats().peers).toBe(2)
    // Messages the server itself owes the reader (presence) do get it cut off once they overflow.
    const churn = await harness.client(server)
    const left = sender.next('peer-left', (m) => m.peer === stalled.id)
    let gone = false
    void left.then(() => (gone = true))
    for (let i = 0; !gone && i < 2_000; i++) {
      await churn.join(`r`)
      churn.send({ type: 'leave', room: 'r' })
      await churn.sync()
    }
    expect(await left).toMatchObject({ type: 'peer-left', room: 'r' })
  })
})

describe('signaling server: heartbeat', () => {
  it('terminates a socket that stops answering pings and announces it as left', async () => {
    const server = await harness.server({ heartbeatMs: 100 })
    const dead = await harness.client(server, { autoPong: false })
    const alive = await harness.client(server)
    await dead.join('r')
    await alive.join('r')
    expect(await alive.next('peer-left')).toEqual({ type: 'peer-left', room: 'r', peer: dead.id })
    expect((await dead.closed).code).toBe(1006)
    expect(server.stats()).toEqual({ rooms: 1, peers: 1 })
    // The live client answered every ping and is still connected.
    expect((await alive.join('r')).peers).toEqual([])
  })
})

describe('signaling server: memory a client can make it hold', () => {
  it('closes a connection that sends a message in too many fragments (1008), before they pile up', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    // Each fragment would be held as a buffer of its own until the message ends.
    for (let i = 0; i < 100; i++) a.ws.send('x', { fin: false })
    expect((await a.closed).code).toBe(1008)
    const b = await harness.client(server)
    expect(await b.join('r')).toMatchObject({ type: 'joined' })
  })

  it('holds at most 256 KiB of messages behind a token check, as text', async () => {
    let admit!: () => void
    const gate = new Promise<void>((resolve) => (admit = resolve))
    const server = await harness.server({
      verifyToken: async () => {
        await gate
        return true
      },
      limits: { messagesPerSecond: 1e6, burst: 1_000 },
    })
    const a = await harness.client(server)
    a.send({ type: 'join', room: 'r', token: 't' })
    const refused = a.error('ERR_RATE_LIMITED')
    const data = 'x'.repeat(15 * 1024)
    for (let i = 0; i < 40; i++) a.send({ type: 'signal', room: 'r', to: 'nobody', data })
    expect((await refused).message).toMatch(/256 KiB already wait for a token check/)
    admit()
    expect(await a.next('joined')).toMatchObject({ room: 'r' })
  })
})
