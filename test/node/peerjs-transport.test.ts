/**
 * The PeerJS adapter over real WebRTC (node-datachannel) through a real PeerServer on port 0:
 * presence, room isolation, bytes both ways (large and many), leaves, and coded start failures.
 */
import * as ndc from 'node-datachannel/polyfill'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort } from '../helpers/ports.js'
import { WebSocket as NodeWebSocket } from 'ws'
import type { Connector } from '../../src/connector.js'
import { PeerjectError, isPeerjectError } from '../../src/errors.js'
import type { PeerId } from '../../src/ids.js'
import type { Platform, WebRtcImplementation } from '../../src/platform.js'
import {
  acceptDecision,
  createPeerJsConnector,
  peerJsRoomPrefix,
} from '../../src/transport/peerjs.js'
import type { Transport } from '../../src/transport/transport.js'
import { startPeerServer } from '../helpers/peer-server.js'
import type { RunningPeerServer } from '../helpers/peer-server.js'

const platform: Platform = {
  name: 'node',
  webrtc: ndc as unknown as WebRtcImplementation,
  WebSocket: NodeWebSocket as unknown as typeof WebSocket,
  maxChannelMessageSize: 256 * 1024,
}

let server: RunningPeerServer
const started: Connector[] = []

beforeAll(async () => {
  server = await startPeerServer()
})
afterAll(async () => {
  for (const connector of started) connector.close()
  await server.close()
  // The Node globals peerjs needs exist only while a connector is started (docs/peerjs.md).
  expect(globalThis.RTCPeerConnection).toBeUndefined()
  expect(globalThis.WebSocket).toBeUndefined()
})

/** A connector plus every `open` / `failed` it reported. */
interface Watched {
  readonly connector: Connector
  readonly opened: Map<PeerId, Transport>
  readonly failed: PeerjectError[]
  /** Resolves with the transport to `remote` once it is open; rejects if it failed. */
  transportTo(remote: PeerId): Promise<Transport>
}

function connect(room: string, { port = server.port, presencePollMs = 2_000 } = {}): Watched {
  const connector = createPeerJsConnector({
    room,
    platform,
    peerjs: { host: '127.0.0.1', port, path: server.path, key: server.key },
    connectTimeoutMs: 5_000,
    presencePollMs,
  })
  started.push(connector)
  const opened = new Map<PeerId, Transport>()
  const failed: PeerjectError[] = []
  connector.on('open', (peer, transport) => void opened.set(peer, transport))
  connector.on('failed', (_peer, error) => void failed.push(error))
  return {
    connector,
    opened,
    failed,
    transportTo: (remote) =>
      new Promise((resolve, reject) => {
        const known = opened.get(remote)
        if (known !== undefined) return resolve(known)
        const offs = [
          connector.on('open', (peer, transport) => {
            if (peer !== remote) return
            for (const off of offs) off()
            resolve(transport)
          }),
          connector.on('failed', (peer, error) => {
            if (peer !== remote) return
            for (const off of offs) off()
            reject(error)
          }),
        ]
      }),
  }
}

/** Collects what a transport receives; `next(n)` resolves once `n` messages arrived in total. */
function collect(transport: Transport): {
  messages: Uint8Array[]
  closed: Promise<PeerjectError | undefined>
  next(count: number): Promise<Uint8Array[]>
} {
  const messages: Uint8Array[] = []
  const waiters: { count: number; resolve: (all: Uint8Array[]) => void }[] = []
  let onClose: (reason: PeerjectError | undefined) => void = () => {}
  const closed = new Promise<PeerjectError | undefined>((resolve) => (onClose = resolve))
  transport.listen({
    message(bytes) {
      messages.push(bytes)
      for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(messages)
      }
    },
    close: (reason) => onClose(reason),
  })
  return {
    messages,
    closed,
    next: (count) =>
      messages.length >= count
        ? Promise.resolve(messages)
        : new Promise((resolve) => waiters.push({ count, resolve })),
  }
}

function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff
  return bytes
}

describe('PeerJS adapter (node-datachannel, real PeerServer)', () => {
  it('the room prefix is PeerJS-legal and never a prefix of another room', () => {
    const legal = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/
    for (const room of ['ab', 'abc', 'a b/c~%', 'ünï 🎉', '']) {
      expect(legal.test(`${peerJsRoomPrefix(room)}${crypto.randomUUID()}`)).toBe(true)
    }
    expect(peerJsRoomPrefix('abc').startsWith(peerJsRoomPrefix('ab'))).toBe(false)
  })

  it('an incoming connection is accepted, refused or replaces the one held, by one rule on both sides', () => {
    const outgoingPending = { outgoing: true, open: false }
    const outgoingOpen = { outgoing: true, open: true }
    const incomingPending = { outgoing: false, open: false }
    const incomingOpen = { outgoing: false, open: true }
    expect(acceptDecision(undefined, false, false)).toBe('accept')
    expect(acceptDecision(undefined, true, true)).toBe('accept')
    // Glare, redial or not: the connection dialed by the smaller id survives.
    for (const redial of [false, true]) {
      expect(acceptDecision(outgoingPending, redial, true)).toBe('replace')
      expect(acceptDecision(outgoingPending, redial, false)).toBe('refuse')
    }
    // A second dial is refused unless it is a redial, which replaces what is held, open or not.
    for (const existing of [outgoingOpen, incomingPending, incomingOpen]) {
      for (const smaller of [false, true]) {
        expect(acceptDecision(existing, false, smaller)).toBe('refuse')
        expect(acceptDecision(existing, true, smaller)).toBe('replace')
      }
    }
  })

  it('two peers of a room connect, a third room stays apart, bytes flow both ways', async () => {
    const a = connect('alpha')
    const c = connect('beta')
    await Promise.all([a.connector.start(), c.connector.start()])
    const b = connect('alpha')
    await b.connector.start()
    expect(typeof globalThis.RTCPeerConnection).toBe('function')

    const [ab, ba] = await Promise.all([
      a.transportTo(b.connector.self),
      b.transportTo(a.connector.self),
    ])
    expect(ab.maxMessageSize).toBe(256 * 1024)
    const atA = collect(ab)
    const atB = collect(ba)

    // Small, then 200 KiB, then many small ones in order, in both directions. B dialed, so B speaks
    // first: A, which accepted, holds what it sends until B's first message (as the wire's HELLO).
    const first = ab.send(new Uint8Array([1, 2, 3]))
    await ba.send(new Uint8Array([4, 5]))
    await first
    const big = pattern(200 * 1024, 7)
    await ab.send(big)
    await ba.send(pattern(200 * 1024, 9))
    const count = 300
    for (let i = 0; i < count; i++) {
      await ab.send(new Uint8Array([i & 0xff, i >> 8]))
      await ba.send(new Uint8Array([i >> 8, i & 0xff]))
    }
    const [fromA, fromB] = await Promise.all([atB.next(count + 2), atA.next(count + 2)])
    expect([...(fromA[0] ?? [])]).toEqual([1, 2, 3])
    expect([...(fromB[0] ?? [])]).toEqual([4, 5])
    expect(fromA[1]).toEqual(big)
    expect(fromB[1]).toEqual(pattern(200 * 1024, 9))
    expect(fromA[1]).not.toBeInstanceOf(Buffer)
    const orderA = fromA.slice(2).map((m) => (m[0] ?? 0) + (m[1] ?? 0) * 256)
    const orderB = fromB.slice(2).map((m) => (m[1] ?? 0) + (m[0] ?? 0) * 256)
    expect(orderA).toEqual([...Array(count).keys()])
    expect(orderB).toEqual([...Array(count).keys()])

    // The other room was listed by the PeerServer but never dialed.
    expect([...a.opened.keys()]).toEqual([b.connector.self])
    expect([...b.opened.keys()]).toEqual([a.connector.self])
    expect(c.opened.size).toBe(0)
    expect([...a.failed, ...b.failed, ...c.failed]).toEqual([])

    // Closing one side closes the other's transport with ERR_PEER_LEFT; its own closes cleanly.
    a.connector.close()
    expect(await atA.closed).toBeUndefined()
    const reason = await atB.closed
    expect(isPeerjectError(reason, 'ERR_PEER_LEFT')).toBe(true)
    expect(ba.state).toBe('closed')
    await expect(ba.send(new Uint8Array([1]))).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  })

  it('peers starting at the same moment end with exactly one connection each way', async () => {
    const peers = [connect('gamma'), connect('gamma'), connect('gamma')]
    await Promise.all(peers.map((p) => p.connector.start()))
    await Promise.all(
      peers.flatMap((p) =>
        peers.filter((q) => q !== p).map((q) => p.transportTo(q.connector.self)),
      ),
    )
    for (const p of peers) {
      expect(p.opened.size).toBe(2)
      expect(p.failed).toEqual([])
    }
    const [x, y] = peers
    if (x === undefined || y === undefined) throw new Error('unreachable')
    const yx = y.opened.get(x.connector.self) as Transport
    const atY = collect(yx)
    // Both speak: whichever of the two accepted the connection sends once the dialer spoke.
    await Promise.all([
      x.opened.get(y.connector.self)?.send(new Uint8Array([42])),
      yx.send(new Uint8Array([43])),
    ])
    expect([...((await atY.next(1))[0] ?? [])]).toEqual([42])
    for (const p of peers) p.connector.close()
  })

  it('retry() after a failed handshake dials again; the other side lets the new connection replace its open one', async () => {
    const [x, y] = [connect('redial'), connect('redial')]
    await x.connector.start()
    await y.connector.start()
    const [oldAtX, oldAtY] = await Promise.all([
      x.transportTo(y.connector.self),
      y.transportTo(x.connector.self),
    ])
    const oldY = collect(oldAtY)
    const nextOpen = (w: Watched, remote: PeerId) =>
      new Promise<Transport>((resolve) => {
        const off = w.connector.on('open', (peer, transport) => {
          if (peer !== remote) return
          off()
          resolve(transport)
        })
      })
    const reopened = Promise.all([nextOpen(x, y.connector.self), nextOpen(y, x.connector.self)])
    const timeout = new PeerjectError('ERR_TIMEOUT', 'no HELLO (as the wire would say)')
    expect(y.connector.retry?.(x.connector.self, oldAtY, timeout)).toBe(true)
    const [newAtX, newAtY] = await reopened
    expect(newAtX).not.toBe(oldAtX)
    expect((await oldY.closed)?.code).toBe('ERR_CLOSED')
    const atX = collect(newAtX)
    await newAtY.send(new Uint8Array([7]))
    expect([...((await atX.next(1))[0] ?? [])]).toEqual([7])
    // A failure that is not a missing HELLO, or a transport that is no longer the current one.
    expect(
      y.connector.retry?.(x.connector.self, newAtY, new PeerjectError('ERR_VERSION', 'v9')),
    ).toBe(false)
    expect(y.connector.retry?.(x.connector.self, oldAtY, timeout)).toBe(true)
    expect(y.opened.get(x.connector.self)).toBe(newAtY)
    expect([...x.failed, ...y.failed]).toEqual([])
    x.connector.close()
    y.connector.close()
  })

  it('a peer gone from the PeerServer (a crash, as the server sees it) is dropped at the next poll', async () => {
    const a = connect('zeta', { presencePollMs: 100 })
    await a.connector.start()
    const b = connect('zeta', { presencePollMs: 100 })
    await b.connector.start()
    const atA = collect(await a.transportTo(b.connector.self))
    const atB = collect(await b.transportTo(a.connector.self))
    const bLostServer = new Promise<PeerjectError>((resolve) => b.connector.on('error', resolve))

    // B's WebRTC link stays up; only its PeerServer socket goes. A must not keep a ghost.
    expect(server.dropClient(peerJsRoomPrefix('zeta') + b.connector.self)).toBe(true)
    const reason = await atA.closed
    expect(isPeerjectError(reason, 'ERR_PEER_LEFT')).toBe(true)
    expect(reason?.message).toContain('no longer on the PeerServer')
    expect(isPeerjectError(await bLostServer, 'ERR_SIGNALING')).toBe(true)
    expect(isPeerjectError(await atB.closed, 'ERR_PEER_LEFT')).toBe(true)
  })

  it('an unreachable PeerServer rejects start() with ERR_SIGNALING', async () => {
    const port = await closedPort()
    const lonely = connect('delta', { port })
    const error = await lonely.connector.start().catch((e: unknown) => e)
    expect(isPeerjectError(error, 'ERR_SIGNALING')).toBe(true)
    expect((error as Error).message).toContain(`127.0.0.1:${port}`)
  })

  it('a PeerServer without discovery rejects start() and says how to fix it', async () => {
    const closed = await startPeerServer({ allowDiscovery: false })
    try {
      const lonely = connect('epsilon', { port: closed.port })
      const error = await lonely.connector.start().catch((e: unknown) => e)
      expect(isPeerjectError(error, 'ERR_SIGNALING')).toBe(true)
      expect((error as Error).message).toContain('allow_discovery')
    } finally {
      await closed.close()
    }
  })
})
