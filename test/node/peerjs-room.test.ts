/**
 * Issue 6 end to end in Node: rooms joined through a real PeerServer (npm `peer`, port 0) with
 * `joinRoom({ room, peerjs })`. Node peers (node-datachannel, and @roamhq/wrtc next to it) see each
 * other, exchange values (8 MiB binary among them, with references flowing alongside), call an
 * exposed reference with a callback, and see leaves with no ghosts. The connector itself (naming,
 * glare, crash detection, start errors) is covered in peerjs-transport.test.ts.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort } from '../helpers/ports.js'
import { joinRoom } from '../../src/node.js'
import type { CodeOptions, Room } from '../../src/index.js'
import { isPeerjectError } from '../../src/errors.js'
import type { PeerId } from '../../src/ids.js'
import type { WebRtcImplementation } from '../../src/platform.js'
import { deafWebRtc } from '../helpers/deaf-webrtc.js'
import { MAX_REDIALS } from '../../src/connector.js'
import { startPeerServer } from '../helpers/peer-server.js'
import type { RunningPeerServer } from '../helpers/peer-server.js'
import { nextMessage, waitForLeave, waitForPeers } from '../helpers/events.js'

let server: RunningPeerServer
let codeDirectory: string
const rooms: Room[] = []

beforeAll(async () => {
  server = await startPeerServer()
  codeDirectory = await mkdtemp(joinPath(tmpdir(), 'peerject-peerjs-room-'))
})
afterAll(async () => {
  for (const room of rooms) room.leave()
  await server.close()
  await rm(codeDirectory, { recursive: true, force: true })
})

/** A joined room plus every presence event it emitted since joining. */
interface Joined {
  readonly room: Room
  readonly seen: Set<PeerId>
  readonly left: PeerId[]
}

async function join(
  name: string,
  webrtc: 'node-datachannel' | 'wrtc' = 'node-datachannel',
  code: CodeOptions = {},
): Promise<Joined> {
  const room = await joinRoom({
    room: name,
    webrtc,
    peerjs: { host: '127.0.0.1', port: server.port, path: server.path, key: server.key },
    connectTimeoutMs: 10_000,
    // Each peer its own store: what B runs must come over the connection, not from A's disk.
    code: { directory: joinPath(codeDirectory, crypto.randomUUID()), ...code },
  })
  rooms.push(room)
  const seen = new Set<PeerId>()
  const left: PeerId[] = []
  room.on('peer', (peer) => void seen.add(peer.id))
  room.on('leave', (peer) => void left.push(typeof peer === 'string' ? peer : peer.id))
  return { room, seen, left }
}

/** Waits until every room has every other one as a peer. */
async function meshed(all: readonly Joined[]): Promise<void> {
  await Promise.all(
    all.map(({ room }) =>
      waitForPeers(
        room,
        all.filter((other) => other.room !== room).map((other) => other.room.self),
      ),
    ),
  )
}

function peerOf(from: Joined, to: Joined) {
  const peer = from.room.peers.get(to.room.self)
  if (peer === undefined) throw new Error(`${from.room.self} has no peer ${to.room.self}`)
  return peer
}

/** Deterministic bytes, so both sides can check them without shipping the expectation. */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff
  return bytes
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

interface Big {
  readonly kind: 'big'
  readonly blob: Uint8Array
  readonly meta: Map<string, unknown>
}

interface Calc {
  add(x: number, y: number): number
  mapEach(values: number[], fn: (value: number) => number | Promise<number>): Promise<number[]>
  fail(message: string): never
}

const calc: Calc = {
  add: (x, y) => x + y,
  async mapEach(values, fn) {
    const out: number[] = []
    for (const value of values) out.push(await fn(value))
    return out
  },
  fail(message) {
    throw new RangeError(message)
  },
}

describe('rooms through a PeerServer (node-datachannel)', () => {
  it('two peers see each other and exchange values: 8 MiB each way, references alongside', async () => {
    const a = await join('values')
    const b = await join('values')
    await meshed([a, b])
    expect([...a.seen]).toEqual([b.room.self])
    expect([...b.seen]).toEqual([a.room.self])

    // B answers pings with whether A's big value has arrived yet.
    let bigAtB = false
    b.room.expose('probe', { ping: (i: number) => ({ i, bigArrived: bigAtB }) })
    const atB: unknown[] = []
    const bGotAll = new Promise<void>((resolve) => {
      b.room.on('message', (value) => {
        if ((value as { kind?: string }).kind === 'big') bigAtB = true
        atB.push(value)
        if (atB.length === 12) resolve()
      })
    })

    const blobAB = pattern(8 * 1024 * 1024, 1)
    const blobBA = pattern(8 * 1024 * 1024, 2)
    const meta = new Map<string, unknown>([
      ['at', new Date(1_700_000_000_000)],
      ['n', 2n ** 70n],
      ['tags', new Set(['x', 'y'])],
    ])
    const ab = peerOf(a, b)
    const ba = peerOf(b, a)
    const aGotBig = nextMessage(a.room, (v) => (v as { kind?: string }).kind === 'big')
    let lastProgress = 0
    const sends = [
      ab.send({ kind: 'small', i: -1 }),
      ab.send({ kind: 'big', blob: blobAB, meta } satisfies Big, {
        onProgress: (sent, total) => {
          expect(sent).toBeGreaterThanOrEqual(lastProgress)
          expect(total).toBeGreaterThan(blobAB.byteLength)
          lastProgress = sent
        },
      }),
      ...Array.from({ length: 10 }, (_, i) => ab.send({ kind: 'small', i })),
      ba.send({ kind: 'big', blob: blobBA, meta } satisfies Big),
    ]
    // References travel on their own channel: they must not wait for the 8 MiB value.
    const probe = ab.resolve<{ ping(i: number): { i: number; bigArrived: boolean } }>('probe')
    const pings = []
    for (let i = 0; i < 3; i++) pings.push(await probe.ping(i))
    expect(pings[0]).toEqual({ i: 0, bigArrived: false })

    await Promise.all(sends)
    expect(lastProgress).toBeGreaterThan(blobAB.byteLength)
    await bGotAll
    // Values arrive as they complete: the small ones sent after the big one overtake it, in order.
    expect(atB.map((v) => (v as { kind: string; i?: number }).i ?? 'big')).toEqual([
      -1,
      ...Array.from({ length: 10 }, (_, i) => i),
      'big',
    ])
    const received = atB[11] as Big
    expect(received.blob).toBeInstanceOf(Uint8Array)
    expect(received.blob.byteLength).toBe(blobAB.byteLength)
    expect(sha256(received.blob)).toBe(sha256(blobAB))
    expect(received.meta).toEqual(meta)

    const back = (await aGotBig).value as Big
    expect(sha256(back.blob)).toBe(sha256(blobBA))
    expect(back.meta.get('n')).toBe(2n ** 70n)
  })

  it('a reference exposed on one peer is called from another, with a callback', async () => {
    const a = await join('refs')
    const b = await join('refs')
    await meshed([a, b])
    a.room.expose('calc', calc)

    const remote = peerOf(b, a)
    expect(await remote.list()).toEqual(['calc'])
    const stub = remote.resolve<Calc>('calc')
    expect(await stub.add(2, 3)).toBe(5)
    const calledWith: number[] = []
    const doubled = await stub.mapEach([1, 2, 3], async (value) => {
      calledWith.push(value)
      return value * 10
    })
    expect(doubled).toEqual([10, 20, 30])
    expect(calledWith).toEqual([1, 2, 3])
    await expect(Promise.resolve(stub.fail('no'))).rejects.toMatchObject({
      name: 'RangeError',
      message: 'no',
    })
    // Nothing exposed on B: A lists nothing.
    expect(await peerOf(a, b).list()).toEqual([])
  })

  it('a peer that leaves is announced to the rest and leaves no ghost', async () => {
    const a = await join('leaves')
    const b = await join('leaves')
    const c = await join('leaves')
    await meshed([a, b, c])

    const seenByA = waitForLeave(a.room, c.room.self)
    const seenByB = waitForLeave(b.room, c.room.self)
    c.room.leave()
    await Promise.all([seenByA, seenByB])
    for (const other of [a, b]) {
      expect(other.left).toEqual([c.room.self])
      expect(other.room.peers.has(c.room.self)).toBe(false)
    }
    expect(c.room.peers.size).toBe(0)
    // The two that stayed still talk.
    const got = nextMessage(b.room, (v) => v === 'still here')
    await peerOf(a, b).send('still here')
    expect((await got).from.id).toBe(a.room.self)
    // A newcomer meets only the peers still there.
    const d = await join('leaves')
    await meshed([a, b, d])
    expect([...d.room.peers.keys()].sort()).toEqual([a.room.self, b.room.self].sort())
  })
})

describe('a connection whose handshake fails is dialed again', () => {
  const options = (name: string, webrtc: WebRtcImplementation) => ({
    room: name,
    webrtc,
    peerjs: { host: '127.0.0.1', port: server.port, path: server.path, key: server.key },
    limits: { helloTimeoutMs: 1500 },
  })

  it('a newcomer that never hears the HELLO dials again and the two meet', async () => {
    const a = await join('redial')
    const deaf = await deafWebRtc(1)
    const b = await joinRoom(options('redial', deaf.impl))
    rooms.push(b)
    const reported: string[] = []
    b.on('leave', (peer) => reported.push(`leave ${typeof peer === 'string' ? peer : peer.id}`))
    b.on('error', (error) => reported.push(`error ${error.code}`))
    await waitForPeers(b, [a.room.self])
    expect(deaf.opened()).toBe(2)
    // The failed first attempt reached no one on B's side.
    expect(reported).toEqual([])
    // A heard B's HELLO the first time (B was deaf, not mute), so A saw B come, go and come back;
    // a message from B reaches A over the new connection, and A's answer takes it back.
    const atA = nextMessage(a.room, (v) => v === 'from b')
    await peerOf({ room: b, seen: new Set(), left: [] }, a).send('from b')
    expect((await atA).from.id).toBe(b.self)
    const atB = nextMessage(b, (v) => v === 'from a')
    await peerOf(a, { room: b, seen: new Set(), left: [] }).send('from a')
    expect((await atB).from.id).toBe(a.room.self)
    expect(a.room.peers.size).toBe(1)
  })

  it(`after ${MAX_REDIALS} redials the peer is reported failed with ERR_CONNECT`, async () => {
    const a = await join('redial-cap')
    const deaf = await deafWebRtc(Infinity)
    const b = await joinRoom(options('redial-cap', deaf.impl))
    rooms.push(b)
    const errors: unknown[] = []
    b.on('error', (error) => errors.push(error))
    const failure = await waitForPeers(b, [a.room.self]).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(Error)
    const reason = (failure as Error).cause
    expect(isPeerjectError(reason) && reason.code).toBe('ERR_CONNECT')
    expect(deaf.opened()).toBe(MAX_REDIALS + 1)
    expect(errors).toHaveLength(1)
  })
})

describe('code objects through a PeerServer-brokered connection', () => {
  it('a peer publishes a module; another fetches it with a token, runs it and calls an export', async () => {
    const a = await join('code', 'node-datachannel', {
      verifyToken: (token) => token === 'let-me-in',
    })
    const b = await join('code')
    await meshed([a, b])

    const source = [
      'export function add(x, y) { return x + y }',
      'export async function shout(text) { return text.toUpperCase() + "!" }',
    ].join('\n')
    const id = await a.room.code.publish(source, { name: 'adder', version: '1.0.0' })
    expect(id).toBe(createHash('sha256').update(source).digest('hex'))

    const publisher = peerOf(b, a)
    const denied = await publisher.code.run(id, { token: 'wrong' }).catch((e: unknown) => e)
    expect(isPeerjectError(denied, 'ERR_DENIED')).toBe(true)

    const mod = await publisher.code.run<{
      add(x: number, y: number): number
      shout(text: string): Promise<string>
    }>(id, { token: 'let-me-in' })
    try {
      expect(await mod.add(2, 3)).toBe(5)
      expect(await mod.shout('peerjs')).toBe('PEERJS!')
    } finally {
      mod.dispose()
    }
  })
})

describe('@roamhq/wrtc through the PeerJS adapter', () => {
  it('a wrtc peer and a node-datachannel peer in one process connect, talk and part', async () => {
    // Count the connections built by @roamhq/wrtc: the adapter must not quietly use the other
    // implementation (peerjs reads one global RTCPeerConnection for every connector).
    // The module object node.ts loads (`default`), patched for the join and put back.
    const wrtc = ((await import('@roamhq/wrtc')) as { default: WebRtcImplementation }).default as {
      -readonly [K in keyof WebRtcImplementation]: WebRtcImplementation[K]
    }
    const Original = wrtc.RTCPeerConnection
    let built = 0
    const Counting = class extends Original {
      constructor(config?: RTCConfiguration) {
        super(config)
        built++
      }
    }
    const n = await join('wrtc')
    let w: Joined
    wrtc.RTCPeerConnection = Counting
    try {
      w = await join('wrtc', 'wrtc')
    } finally {
      wrtc.RTCPeerConnection = Original
    }
    await meshed([n, w])
    expect(built).toBe(1)

    // wrtc closes a channel on a message over 256 KiB: the wire must chunk below it.
    const blob = pattern(2 * 1024 * 1024, 3)
    const got = nextMessage(n.room, (v) => v instanceof Uint8Array)
    await peerOf(w, n).send(blob)
    expect(sha256((await got).value as Uint8Array)).toBe(sha256(blob))
    const echoed = nextMessage(w.room, (v) => v instanceof Uint8Array)
    await peerOf(n, w).send(blob)
    expect(sha256((await echoed).value as Uint8Array)).toBe(sha256(blob))

    n.room.expose('calc', calc)
    const stub = peerOf(w, n).resolve<Calc>('calc')
    expect(await stub.mapEach([4, 5], (value) => value + 1)).toEqual([5, 6])

    const left = waitForLeave(n.room, w.room.self)
    w.room.leave()
    await left
    expect(n.room.peers.size).toBe(0)
  })
})

it('joining through a PeerServer that is not there rejects with ERR_SIGNALING', async () => {
  const error = await joinRoom({
    room: 'nowhere',
    peerjs: { host: '127.0.0.1', port: await closedPort(), key: server.key },
    connectTimeoutMs: 5_000,
  }).catch((e: unknown) => e)
  expect(isPeerjectError(error, 'ERR_SIGNALING')).toBe(true)
})
