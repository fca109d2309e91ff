/** Rooms, presence, relay, isolation, health and shutdown of the signaling server. */
import { request } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createSignalingServer } from '../../signaling/index.js'
import type { SignalingLogEvent } from '../../signaling/index.js'
import { Harness, TestClient } from './helpers.js'

const harness = new Harness()
afterEach(() => harness.cleanup())

describe('signaling server: rooms and presence', () => {
  it('welcomes each connection with its own crypto-random id and protocol version 1', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    const welcome = a.received[0]
    expect(welcome).toEqual({ type: 'welcome', id: a.id, version: 1 })
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(a.id).not.toBe(b.id)
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}`)
  })

  it('answers join with the peers already there and tells them who joined', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    const c = await harness.client(server)
    expect(await a.join('lobby')).toEqual({ type: 'joined', room: 'lobby', peers: [] })
    expect((await b.join('lobby')).peers).toEqual([a.id])
    expect(await a.next('peer-joined')).toEqual({ type: 'peer-joined', room: 'lobby', peer: b.id })
    const joined = await c.join('lobby')
    expect([...joined.peers].sort()).toEqual([a.id, b.id].sort())
    await a.next('peer-joined', (m) => m.peer === c.id)
    await b.next('peer-joined', (m) => m.peer === c.id)
    expect(server.stats()).toEqual({ rooms: 1, peers: 3 })
  })

  it('announces peer-left on leave and on socket close, and forgets empty rooms', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    const c = await harness.client(server)
    await a.join('r')
    await b.join('r')
    await c.join('r')
    b.send({ type: 'leave', room: 'r' })
    expect(await a.next('peer-left')).toEqual({ type: 'peer-left', room: 'r', peer: b.id })
    await c.next('peer-left', (m) => m.peer === b.id)
    c.ws.close()
    await a.next('peer-left', (m) => m.peer === c.id)
    a.send({ type: 'leave', room: 'r' })
    a.send({ type: 'leave', room: 'never-joined' }) // a no-op, not an error
    await a.sync()
    expect(a.all('error').filter((m) => m.room === 'never-joined')).toEqual([])
    expect(server.stats()).toEqual({ rooms: 0, peers: 2 })
    expect(b.all('peer-left')).toEqual([])
  })

  it('answers a second join of the same room with the member list again', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    await a.join('r')
    await b.join('r')
    expect((await b.join('r')).peers).toEqual([a.id])
    await a.sync()
    expect(a.all('peer-joined')).toHaveLength(1)
  })
})

describe('signaling server: relay', () => {
  it('relays a signal to the named peer only, with the sender as from', async () => {
    const server = await harness.server()
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => harness.client(server)))
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable')
    for (const client of [a, b, c]) await client.join('r')
    const data = { sdp: 'v=0…', type: 'offer', nested: [1, { x: null }] }
    a.send({ type: 'signal', room: 'r', to: b.id, data })
    expect(await b.next('signal')).toEqual({ type: 'signal', room: 'r', from: a.id, data })
    await a.sync()
    await c.sync()
    expect(c.all('signal')).toEqual([])
    expect(a.all('signal')).toEqual([])
  })

  it('keeps rooms isolated: a signal to a peer of another room is refused and never delivered', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    await a.join('red')
    await b.join('blue')
    a.send({ type: 'signal', room: 'red', to: b.id, data: 'x' })
    const refused = await a.error('ERR_PEER_LEFT')
    expect(refused.room).toBe('red')
    expect(refused.peer).toBe(b.id)
    expect(refused.message).toMatch(/is not in room "red"/)
    // Naming b's room does not help either: a has not joined it.
    a.send({ type: 'signal', room: 'blue', to: b.id, data: 'x' })
    expect((await a.error('ERR_BAD_MESSAGE')).message).toMatch(/join it before/)
    await b.sync()
    expect(b.all('signal')).toEqual([])
    expect(b.all('peer-joined')).toEqual([])
  })

  it('refuses signals to oneself and to peers that left', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    const b = await harness.client(server)
    await a.join('r')
    await b.join('r')
    a.send({ type: 'signal', room: 'r', to: a.id, data: 1 })
    expect((await a.error('ERR_BAD_MESSAGE')).message).toMatch(/cannot signal itself/)
    b.ws.close()
    await a.next('peer-left')
    // A signal crossing its peer's departure (common with churn): not a fault, and named.
    a.send({ type: 'signal', room: 'r', to: b.id, data: 1 })
    expect(await a.error('ERR_PEER_LEFT')).toMatchObject({ room: 'r', peer: b.id })
    expect(a.all('signal')).toEqual([])
  })
})

describe('signaling server: HTTP and lifecycle', () => {
  it('serves GET /health with the counts, and 404 elsewhere', async () => {
    const server = await harness.server()
    const a = await harness.client(server)
    await a.join('r')
    const health = await fetch(`http://127.0.0.1:${server.port}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('content-type')).toBe('application/json')
    expect(await health.json()).toEqual({ status: 'ok', rooms: 1, peers: 1 })
    const other = await fetch(`http://127.0.0.1:${server.port}/`)
    expect(other.status).toBe(404)
    await other.body?.cancel()
  })

  it('reports events to the logger and survives a logger that throws', async () => {
    const events: SignalingLogEvent[] = []
    const server = await harness.server({
      logger: (event) => {
        events.push(event)
        throw new Error('logger bug')
      },
    })
    const a = await harness.client(server)
    await a.join('r')
    expect(events.map((e) => e.type)).toEqual(['listening', 'connect', 'join'])
  })

  it('closes gracefully: every socket gets 1001, the port is released, close is idempotent', async () => {
    const server = await createSignalingServer({ port: 0 })
    const a = harness.track(await TestClient.connect(server.url))
    const b = harness.track(await TestClient.connect(server.url))
    await a.join('r')
    await b.join('r')
    const closing = server.close()
    expect(server.close()).toBe(closing)
    await closing
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' })
    expect((await b.closed).code).toBe(1001)
    expect(server.http.listening).toBe(false)
    expect(server.stats()).toEqual({ rooms: 0, peers: 0 })
    const refused = new WebSocket(server.url)
    await new Promise<void>((resolve) => refused.once('error', () => resolve()))
  })

  it('resolves close even when a client never answers the closing handshake', async () => {
    const server = await createSignalingServer({ port: 0 })
    // A raw upgraded socket that ignores everything the server sends.
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = request({
        port: server.port,
        host: '127.0.0.1',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        },
      })
      req.once('upgrade', (_res, upgraded) => resolve(upgraded))
      req.once('error', reject)
      req.end()
    })
    socket.on('error', () => {})
    socket.resume() // read and discard: the close frame is never answered
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    await server.close()
    await gone
  })

  it('rejects invalid options with what to change', async () => {
    await expect(createSignalingServer({ port: -1 })).rejects.toThrow(/port must be/)
    await expect(createSignalingServer({ port: 0, host: 5 as never })).rejects.toThrow(
      /host must be a host name or IP address string/,
    )
    await expect(createSignalingServer({ port: 0, heartbeatMs: 0 })).rejects.toThrow(/heartbeatMs/)
    await expect(createSignalingServer({ port: 0, limits: { burst: 1.5 } })).rejects.toThrow(
      /burst must be a positive integer/,
    )
    await expect(createSignalingServer({ port: 0, jwt: { secret: '' } })).rejects.toThrow(
      /jwt.secret is empty/,
    )
    await expect(createSignalingServer({ port: 0, jwt: {} as never })).rejects.toThrow(
      new TypeError(
        'jwt.secret must be the HMAC secret your token issuer signs with (a string or Uint8Array), got undefined',
      ),
    )
    await expect(createSignalingServer({ port: 0, jwt: 'secret' as never })).rejects.toThrow(
      /jwt must be an object/,
    )
    await expect(createSignalingServer({ port: 0, verifyToken: 1 as never })).rejects.toThrow(
      new TypeError(
        'verifyToken must be a function (token, room) => boolean | Promise<boolean>, got number',
      ),
    )
    const first = await harness.server()
    await expect(createSignalingServer({ port: first.port })).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${first.port}`),
    )
  })
})
