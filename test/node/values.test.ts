/**
 * Issue 3 over real WebRTC between Node peers: values of any size. A 100 MiB object with binary
 * fields arrives intact; a small value overtakes a large one in transit; progress is monotonic;
 * an AbortSignal cancels mid-send on both sides leaving nothing behind; coded rejections
 * (ERR_UNSERIALIZABLE, ERR_PEER_LEFT, ERR_TOO_LARGE) and coded connection errors;
 * `room.broadcast` and `room.messages()`.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClassRegistry, isPeerjectError } from '../../src/index.js'
import type { Room } from '../../src/index.js'
import type { SignalingServer } from '../../signaling/index.js'
import { nextMessage, waitForLeave } from '../helpers/events.js'
import { nodeGroup, nodePair } from '../helpers/node-pair.js'
import type { NodePair } from '../helpers/node-pair.js'
import { startSignaling } from '../helpers/signaling.js'
import { rejection } from '../helpers/rejection.js'
import { BULK_PACING } from '../../src/wire/scheduler.js'

const MiB = 1024 * 1024

let server: SignalingServer
let pair: NodePair
const cleanup: Array<() => void> = []

beforeAll(async () => {
  server = await startSignaling()
  pair = await nodePair(server.url)
})
afterAll(async () => {
  pair.leave()
  for (const leave of cleanup) leave()
  await server.close()
})

const sha256 = (bytes: ArrayBufferView): string =>
  createHash('sha256')
    .update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .digest('hex')

/** Deterministic non-trivial bytes (every byte position matters to the hash). */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(length / 4))
  let state = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    words[i] = state >>> 0
  }
  for (let i = words.length * 4; i < length; i++) bytes[i] = i & 0xff
  return bytes
}

/** `CODE: message ← CODE: message …` along the cause chain, for assertion messages. */
function explain(error: unknown): string {
  const parts: string[] = []
  for (let e = error; e instanceof Error && parts.length < 5; e = e.cause) {
    parts.push(`${(e as { code?: string }).code ?? e.name}: ${e.message}`)
  }
  return parts.join(' ← ')
}

describe('large values', () => {
  it('a 100 MiB object with binary fields arrives intact, with its typed-array classes', async () => {
    const bytes = pattern(60 * MiB + 3, 1)
    const floats = new Float64Array(5 * MiB)
    for (let i = 0; i < floats.length; i++) floats[i] = i * 0.25 - 1e6
    const value = { name: 'dataset', parts: [bytes, floats], meta: { rows: floats.length, n: 7n } }
    const arrived = nextMessage(pair.b)
    const started = performance.now()
    await pair.toB.send(value)
    const { value: received, from } = await arrived
    const seconds = (performance.now() - started) / 1000
    console.info(
      `100 MiB value Node→Node: ${seconds.toFixed(2)} s, ${(100 / seconds).toFixed(1)} MiB/s`,
    )

    expect(from.id).toBe(pair.a.self)
    const got = received as typeof value
    expect(got.name).toBe('dataset')
    expect(got.meta).toEqual({ rows: floats.length, n: 7n })
    expect(Object.getPrototypeOf(got.parts[0])).toBe(Uint8Array.prototype) // never a Buffer
    expect(Object.getPrototypeOf(got.parts[1])).toBe(Float64Array.prototype)
    expect(got.parts[0]!.byteLength).toBe(bytes.byteLength)
    expect(sha256(got.parts[0]!)).toBe(sha256(bytes))
    expect(sha256(got.parts[1]!)).toBe(sha256(floats))
  })

  it('a value is sent as it was when send was called: changing its buffers right after changes nothing', async () => {
    const big = pattern(8 * MiB, 5)
    const expected = sha256(big)
    const arrived = nextMessage(pair.b)
    const sending = pair.toB.send({ big, small: Uint8Array.of(1, 2, 3) })
    big.fill(0) // before a single frame went out
    await sending
    const { value } = await arrived
    expect(sha256((value as { big: Uint8Array }).big)).toBe(expected)
  })

  it('snapshots in recycled memory: back-to-back and concurrent large sends each arrive as they were sent', async () => {
    const received: string[] = []
    let expectedCount = 0
    let allArrived!: () => void
    const off = pair.b.on('message', (value) => {
      received.push(sha256((value as { big: Uint8Array }).big))
      if (received.length === expectedCount) allArrived()
    })
    const arrivals = (count: number) => {
      expectedCount = count
      return new Promise<void>((resolve) => (allArrived = resolve))
    }
    const source = pattern(4 * MiB, 11)
    const sent: string[] = []
    // Back to back: each send's snapshot reuses the memory of the one before.
    let arrived = arrivals(3)
    for (let i = 0; i < 3; i++) {
      source[i] = 0xff - i // a new value each time, in the same buffer
      sent.push(sha256(source))
      const sending = pair.toB.send({ big: source })
      source.fill(i) // must not reach the message being sent
      source.set(pattern(4 * MiB, 11).subarray(0, 4 * MiB))
      await sending
    }
    await arrived
    // Concurrent: two sends in flight at once never share memory.
    arrived = arrivals(5)
    const x = pattern(4 * MiB, 12)
    const y = pattern(4 * MiB, 13)
    sent.push(sha256(x), sha256(y))
    await Promise.all([pair.toB.send({ big: x }), pair.toB.send({ big: y })])
    await arrived
    off()
    expect(received.slice(0, 3)).toEqual(sent.slice(0, 3))
    expect(new Set(received.slice(3))).toEqual(new Set(sent.slice(3)))
  })

  it('transfer: listed buffers are detached at send and their bytes arrive intact; bad lists detach nothing', async () => {
    const big = pattern(8 * MiB + 5, 7)
    const small = pattern(100, 8)
    const expected = [sha256(big), sha256(small)]
    const arrived = nextMessage(pair.b)
    const sending = pair.toB.send({ big, small }, { transfer: [big.buffer, small.buffer] })
    // Detached synchronously: nothing the caller does afterwards can change what is sent.
    expect(big.byteLength).toBe(0)
    expect(small.byteLength).toBe(0)
    await sending
    const { value } = await arrived
    const got = value as { big: Uint8Array; small: Uint8Array }
    expect([sha256(got.big), sha256(got.small)]).toEqual(expected)

    const kept = pattern(MiB, 9)
    const error = await rejection(pair.toB.send({ kept }, { transfer: [kept] as never }))
    expect(error).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    expect(kept.byteLength).toBe(MiB) // refused before anything was detached
  })

  it('progress is monotonic and ends at 100%; a 1 KiB value sent mid-transfer arrives first', async () => {
    const big = pattern(64 * MiB, 2)
    const small = { note: 'x'.repeat(1024) }
    const order: string[] = []
    const bothArrived = new Promise<void>((resolve) => {
      const off = pair.b.on('message', (value) => {
        order.push(value instanceof Uint8Array ? `big ${sha256(value)}` : 'small')
        if (order.length === 2) {
          off()
          resolve()
        }
      })
    })
    const progress: Array<[number, number]> = []
    let smallSend: Promise<void> | undefined
    const bigSend = pair.toB.send(big, {
      onProgress: (sent, total) => {
        progress.push([sent, total])
        // Well inside the transfer: more than 4 MiB handed over, most of it still to go.
        if (smallSend === undefined && sent > 4 * MiB) smallSend = pair.toB.send(small)
      },
    })
    await bigSend
    await bothArrived
    expect(order).toEqual(['small', `big ${sha256(big)}`])
    expect(smallSend).toBeDefined()

    const total = progress[0]![1]
    expect(total).toBeGreaterThan(64 * MiB) // the codec's header and framing
    expect(progress.every(([, t]) => t === total)).toBe(true)
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]![0]).toBeGreaterThan(progress[i - 1]![0])
    }
    expect(progress.at(-1)).toEqual([total, total])
    expect(progress.filter(([sent]) => sent === total)).toHaveLength(1)
    expect(progress.length).toBeGreaterThan(100) // chunk by chunk, not all at once
  })

  it('a burst of small values sent in one loop starts leaving during the loop and arrives whole, in order', async () => {
    const count = 3000
    const received: number[] = []
    const allArrived = new Promise<void>((resolve) => {
      const off = pair.b.on('message', (value) => {
        const { seq, data } = value as { seq: number; data: Uint8Array }
        if (data.byteLength === 1024 && data[0] === (seq & 0xff)) received.push(seq)
        if (received.length === count || seq === count - 1) {
          off()
          resolve()
        }
      })
    })
    let handedDuringLoop = 0
    const sends: Array<Promise<void>> = []
    for (let seq = 0; seq < count; seq++) {
      const data = new Uint8Array(1024).fill(seq & 0xff)
      sends.push(pair.toB.send({ seq, data }, { onProgress: () => handedDuringLoop++ }))
    }
    const handedByLoopEnd = handedDuringLoop
    await Promise.all(sends)
    await allArrived
    // ~250 of these fill a 256 KiB frame: every full frame went to the channel inside the loop.
    expect(handedByLoopEnd).toBeGreaterThan(count / 2)
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i))
  })

  it('small values exchanged during a 32 MiB transfer keep bulk in flight within the interactive window', async () => {
    const big = pattern(32 * MiB, 3)
    const offEcho = pair.b.on('message', (value, from) => {
      const ping = (value as { ping?: unknown }).ping
      if (typeof ping === 'number') from.send({ pong: ping }).catch(() => undefined)
    })
    const bigArrived = new Promise<string>((resolve) => {
      const off = pair.b.on('message', (value) => {
        if (value instanceof Uint8Array) {
          off()
          resolve(sha256(value))
        }
      })
    })
    let pong: ((seq: number) => void) | undefined
    const offPong = pair.a.on('message', (value) => {
      const seq = (value as { pong?: unknown }).pong
      if (typeof seq === 'number') pong?.(seq)
    })
    try {
      let sending = true
      const bigSend = pair.toB.send(big).finally(() => (sending = false))
      const inFlight: number[] = []
      for (let seq = 0; sending; seq++) {
        const back = new Promise<void>((resolve) => (pong = (got) => got === seq && resolve()))
        await pair.toB.send({ ping: seq })
        await back
        inFlight.push(pair.toB.wire.bulkInFlight)
      }
      await bigSend
      expect(await bigArrived).toBe(sha256(big))
      expect(inFlight.length).toBeGreaterThan(5)
      // The first ping waited behind the full window; from its answer on, bulk is paced.
      expect(Math.max(...inFlight)).toBeLessThanOrEqual(
        BULK_PACING.interactiveWindowBytes + BULK_PACING.interactiveFrameBytes,
      )
    } finally {
      offEcho()
      offPong()
    }
  })

  it('an AbortSignal cancels mid-send: ERR_ABORTED, nothing delivered, no state left on either side', async () => {
    const received: unknown[] = []
    const off = pair.b.on('message', (value) => received.push(value))
    const controller = new AbortController()
    let sentAtAbort = 0
    const send = pair.toB.send(pattern(48 * MiB, 3), {
      signal: controller.signal,
      onProgress: (sent) => {
        if (sent > 8 * MiB && !controller.signal.aborted) {
          sentAtAbort = sent
          controller.abort()
        }
      },
    })
    const error = await rejection(send)
    expect(isPeerjectError(error, 'ERR_ABORTED')).toBe(true)
    expect(sentAtAbort).toBeGreaterThan(8 * MiB)

    // The CANCEL went out before this value (control frames first, the channel is ordered), so
    // once it arrives the receiver has dropped the partial message.
    const after = nextMessage(pair.b, (value) => value === 'after the abort')
    await pair.toB.send('after the abort')
    await after
    off()
    expect(received).toEqual(['after the abort'])
    expect(pair.toA.wire.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
    expect(pair.toB.wire.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })

    // The session is healthy: a further large value goes through.
    const next = nextMessage(pair.b, (value) => value instanceof Uint8Array)
    const again = pattern(2 * MiB, 4)
    await pair.toB.send(again)
    expect(sha256((await next).value as Uint8Array)).toBe(sha256(again))
  })

  it('a signal aborted before the send starts rejects at once', async () => {
    const error = await rejection(pair.toB.send('x', { signal: AbortSignal.abort() }))
    expect(isPeerjectError(error, 'ERR_ABORTED')).toBe(true)
  })
})

describe('coded rejections and errors', () => {
  it('a function inside a value is ERR_UNSERIALIZABLE naming its path, and nothing is sent', async () => {
    const queued = pair.toB.wire.stats().queuedFrames
    const error = await rejection(pair.toB.send({ user: { name: 'ada', hooks: [1, () => 'no'] } }))
    expect(isPeerjectError(error, 'ERR_UNSERIALIZABLE')).toBe(true)
    expect((error as Error).message).toContain('value.user.hooks[1]')
    expect((error as Error).message).toContain('room.expose')
    expect(pair.toB.wire.stats().queuedFrames).toBe(queued)
  })

  it('a value over the receiver’s maxMessageBytes is ERR_TOO_LARGE at once; the session lives', async () => {
    const small = await nodePair(server.url, { b: { limits: { maxMessageBytes: MiB } } })
    cleanup.push(() => small.leave())
    const started = performance.now()
    const error = await rejection(small.toB.send(new Uint8Array(2 * MiB)))
    const elapsed = performance.now() - started
    expect(isPeerjectError(error, 'ERR_TOO_LARGE')).toBe(true)
    expect((error as Error).message).toMatch(/2 MiB.*maxMessageBytes \(1 MiB\)/)
    expect(elapsed).toBeLessThan(500) // before a single byte of it went out
    expect(small.toB.wire.stats().queuedFrames).toBe(0)

    const fits = nextMessage(small.b)
    await small.toB.send(new Uint8Array(MiB - 64))
    expect(((await fits).value as Uint8Array).byteLength).toBe(MiB - 64)
  })

  it('sending to a peer that left is ERR_PEER_LEFT, also for a send in flight', async () => {
    const leaving = await nodePair(server.url)
    cleanup.push(() => leaving.leave())
    const toB = leaving.toB // the Peer object outlives the connection
    const inFlight = toB.send(pattern(32 * MiB, 5), {
      onProgress: (sent) => {
        if (sent > 2 * MiB && leaving.b.peers.size > 0) leaving.b.leave()
      },
    })
    const failure = await rejection(inFlight)
    expect(isPeerjectError(failure, 'ERR_PEER_LEFT'), explain(failure)).toBe(true)
    if (leaving.a.peers.has(leaving.b.self)) await waitForLeave(leaving.a, leaving.b.self)
    expect(toB.state).toBe('closed')
    const error = await rejection(toB.send('anyone there?'))
    expect(isPeerjectError(error, 'ERR_PEER_LEFT')).toBe(true)
    expect((error as Error).message).toContain(leaving.b.self)
  })

  it('an instance of a class the receiver did not register: coded error event and a coded leave', async () => {
    class Widget {
      size = 3
    }
    const classes = new ClassRegistry()
    classes.register(Widget, { name: 'test.Widget' })
    const strict = await nodePair(server.url, { a: { classes } })
    cleanup.push(() => strict.leave())
    const errorEvent = new Promise<unknown>((resolve) => strict.b.once('error', resolve))
    const leaveEvent = new Promise<unknown>((resolve) =>
      strict.b.once('leave', (_peer, reason) => resolve(reason)),
    )
    const toB = strict.toB
    await toB.send({ widget: new Widget() })
    const error = await errorEvent
    expect(isPeerjectError(error, 'ERR_BAD_MESSAGE')).toBe(true)
    expect((error as Error).message).toContain('test.Widget')
    expect(isPeerjectError(await leaveEvent, 'ERR_BAD_MESSAGE')).toBe(true)
    // The sender's side of the session closes too.
    if (strict.a.peers.has(strict.b.self)) await waitForLeave(strict.a, strict.b.self)
    expect(toB.state).toBe('closed')
  })
})

describe('room-wide values', () => {
  it('room.messages() queues at most maxQueuedBytes while its loop is busy; past that the sender is cut off', async () => {
    const rooms = await nodeGroup(server.url, [{}, {}])
    for (const room of rooms) cleanup.push(() => room.leave())
    const [a, b] = rooms as [Room, Room]
    const errors: string[] = []
    b.on('error', (error) => errors.push(error.code))
    let release!: () => void
    const busy = new Promise<void>((resolve) => (release = resolve))
    const seen: number[] = []
    let gotSix!: () => void
    const six = new Promise<void>((resolve) => (gotSix = resolve))
    const loop = (async () => {
      for await (const { value } of b.messages({ maxQueuedBytes: 512 * 1024 })) {
        seen.push((value as { n: number }).n)
        if (seen.length === 1) await busy // the loop body is slow: what arrives meanwhile queues
        if (seen.length === 6) gotSix()
      }
    })()
    const toB = a.peers.get(b.self)!
    const bLeft = waitForLeave(a, b.self)
    // 12 values of 100 KiB: the first is taken, 5 fit the 512 KiB queue, the next one does not.
    const sends = Array.from({ length: 12 }, (_, n) =>
      toB.send({ n, pad: new Uint8Array(100 * 1024) }).catch(() => undefined),
    )
    await bLeft
    await Promise.all(sends)
    expect(errors).toEqual(['ERR_QUOTA'])
    release()
    await six
    // What was queued before the cut is delivered, in order.
    expect(seen).toEqual([0, 1, 2, 3, 4, 5])
    b.leave()
    await loop
  })

  it('room.broadcast reaches every peer; room.messages() yields { value, from } and ends on leave', async () => {
    const rooms = await nodeGroup(server.url, [{}, {}, {}])
    for (const room of rooms) cleanup.push(() => room.leave())
    const [a, b, c] = rooms as [Room, Room, Room]

    const collect = async (room: Room, count: number) => {
      const seen: Array<{ value: unknown; from: string }> = []
      for await (const { value, from } of room.messages()) {
        seen.push({ value, from: from.id })
        if (seen.length === count) break
      }
      return seen
    }
    const atB = collect(b, 3)
    const seenByC: unknown[] = []
    let cHasFour!: () => void
    const cFour = new Promise<void>((resolve) => (cHasFour = resolve))
    const cDone = (async () => {
      for await (const { value } of c.messages()) {
        seenByC.push(value)
        if (seenByC.length === 4) cHasFour()
      }
    })()

    const blob = pattern(3 * MiB, 6)
    await a.broadcast({ n: 1 })
    await a.broadcast({ n: 2, blob })
    await a.broadcast(new Map([['n', 3]]))

    const seenByB = await atB
    expect(seenByB.map((m) => m.from)).toEqual([a.self, a.self, a.self])
    // Completion order: the small third value may overtake the 3 MiB second one.
    const values = seenByB.map((m) => m.value)
    expect(values).toContainEqual({ n: 1 })
    expect(values).toContainEqual(new Map([['n', 3]]))
    const withBlob = values.find((v) => (v as { n?: number }).n === 2) as { blob: Uint8Array }
    expect(sha256(withBlob.blob)).toBe(sha256(blob))

    // A transfer list detaches once for all peers; each receives the bytes intact.
    const moved = pattern(2 * MiB, 10)
    const movedHash = sha256(moved)
    const nextAtB = collect(b, 1)
    const broadcasting = a.broadcast({ moved }, { transfer: [moved.buffer] })
    expect(moved.byteLength).toBe(0)
    await broadcasting
    const [atBAgain] = await nextAtB
    expect(sha256((atBAgain!.value as { moved: Uint8Array }).moved)).toBe(movedHash)

    // c received the same three, and its iterator finishes when it leaves the room.
    await cFour
    c.leave()
    await cDone
    expect(seenByC).toHaveLength(4)
    expect(sha256((seenByC[3] as { moved: Uint8Array }).moved)).toBe(movedHash)
    expect(seenByC).toContainEqual({ n: 1 })
  })
})
