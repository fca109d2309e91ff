/**
 * WireSession between two sessions over the memory transport: negotiation, round trips, order,
 * coalescing, interleaving, abort, progress, limits the sender respects, and closing.
 */
import { describe, expect, test } from 'vitest'
import { PeerjectError } from '../../src/errors.js'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import type { MemoryTransportOptions } from '../../src/transport/memory.js'
import { FRAME_KIND, WireSession } from '../../src/wire/index.js'
import type { WireLimits } from '../../src/wire/index.js'

interface Setup {
  readonly a?: Partial<WireLimits>
  readonly b?: Partial<WireLimits>
  readonly transport?: MemoryTransportOptions
}

async function connect(setup: Setup = {}) {
  const pair = createMemoryTransportPair(setup.transport)
  const a = new WireSession(pair[0], { limits: setup.a ?? {} })
  const b = new WireSession(pair[1], { limits: setup.b ?? {} })
  await Promise.all([a.ready, b.ready])
  return { a, b, pair }
}

/** Records a session's messages; `count(n)` resolves once n have arrived. */
function inbox(session: WireSession) {
  const messages: Array<{ channel: number; bytes: Uint8Array }> = []
  const waiters: Array<{ n: number; resolve: () => void }> = []
  session.on('message', (channel, bytes) => {
    messages.push({ channel, bytes })
    for (const waiter of waiters.splice(0)) {
      if (messages.length >= waiter.n) waiter.resolve()
      else waiters.push(waiter)
    }
  })
  const count = (n: number): Promise<void> =>
    messages.length >= n
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ n, resolve }))
  return { messages, count }
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed + (i >>> 8)) & 0xff
  return bytes
}

function same(x: Uint8Array, y: Uint8Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(x.buffer, x.byteOffset, x.byteLength),
      Buffer.from(y.buffer, y.byteOffset, y.byteLength),
    ) === 0
  )
}

function rejection(promise: Promise<unknown>): Promise<PeerjectError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(PeerjectError)
      return error as PeerjectError
    },
  )
}

describe('negotiation', () => {
  test('16 KiB frames until the HELLOs are exchanged, then the smallest advertised size', async () => {
    const pair = createMemoryTransportPair()
    const a = new WireSession(pair[0])
    expect(a.chunkBytes).toBe(16 * 1024)
    const b = new WireSession(pair[1], { limits: { maxChunkBytes: 32 * 1024 } })
    await Promise.all([a.ready, b.ready])
    expect([a.chunkBytes, b.chunkBytes]).toEqual([32 * 1024, 32 * 1024])
    a.close()
  })

  test('the transport maxMessageSize caps the frame size', async () => {
    const { a, b } = await connect({ transport: { maxMessageSize: 64 * 1024 } })
    expect([a.chunkBytes, b.chunkBytes]).toEqual([64 * 1024, 64 * 1024])
    a.close()
  })

  test('invalid limits are a RangeError naming the limit', () => {
    const [t] = createMemoryTransportPair()
    expect(() => new WireSession(t, { limits: { maxChunkBytes: 100 } })).toThrow(/maxChunkBytes/)
    expect(() => new WireSession(t, { limits: { maxStreams: 1.5 } })).toThrow(RangeError)
  })
})

describe('messages', () => {
  test('round trip of sizes around the frame size, and 5 MiB, in order; frames never exceed it', async () => {
    const { a, b, pair } = await connect({ transport: { log: true } })
    const chunk = a.chunkBytes
    const sizes = [0, 1, chunk - 9, chunk - 8, chunk - 1, chunk, chunk + 1, 5 * 1024 * 1024, 3]
    const sent = sizes.map((size, i) => pattern(size, i))
    const received = inbox(b)
    await Promise.all(sent.map((bytes) => a.sendMessage(4, bytes)))
    await received.count(sizes.length)
    expect(received.messages.map((m) => m.bytes.byteLength)).toEqual(sizes)
    received.messages.forEach((m, i) => {
      expect(m.channel).toBe(4)
      expect(same(m.bytes, sent[i]!)).toBe(true)
    })
    expect(Math.max(...pair.log.map((entry) => entry.bytes.byteLength))).toBeLessThanOrEqual(chunk)
    a.close()
  })

  test.each([
    ['framed in one reused buffer', true],
    ['framed in a new array per frame', false],
  ])(
    'a message given as parts arrives as their concatenation (%s)',
    async (_name, copiesOnSend) => {
      const { a, b, pair } = await connect({ transport: { log: true, copiesOnSend } })
      const chunk = a.chunkBytes
      const lengths = [1, chunk - 20, 3, 2 * chunk + 7, 0, chunk, 5]
      const parts = lengths.map((length, i) => pattern(length, i))
      let total = 0
      for (const part of parts) total += part.byteLength
      const whole = new Uint8Array(total)
      let at = 0
      for (const part of parts) {
        whole.set(part, at)
        at += part.byteLength
      }
      const received = inbox(b)
      await a.sendMessage(4, parts)
      await a.sendMessage(4, [pattern(10, 1), pattern(20, 2)]) // small: goes out whole in a BATCH
      await received.count(2)
      expect(same(received.messages[0]!.bytes, whole)).toBe(true)
      expect(
        same(received.messages[1]!.bytes, Uint8Array.from([...pattern(10, 1), ...pattern(20, 2)])),
      ).toBe(true)
      expect(Math.max(...pair.log.map((entry) => entry.bytes.byteLength))).toBeLessThanOrEqual(
        chunk,
      )
      a.close()
    },
  )

  test('order is kept per channel while channels interleave', async () => {
    const { a, b } = await connect()
    const received = inbox(b)
    const plan: Array<[number, number]> = []
    for (let i = 0; i < 60; i++) plan.push([i % 3, i % 7 === 0 ? 600_000 + i : 10 + i])
    await Promise.all(plan.map(([channel, size], i) => a.sendMessage(channel, pattern(size, i))))
    await received.count(plan.length)
    for (const channel of [0, 1, 2]) {
      const expected = plan.filter(([c]) => c === channel).map(([, size]) => size)
      const got = received.messages
        .filter((m) => m.channel === channel)
        .map((m) => m.bytes.byteLength)
      expect(got).toEqual(expected)
    }
    a.close()
  })

  test('small messages sent in one tick are coalesced into BATCH frames', async () => {
    const { a, b, pair } = await connect({ transport: { log: true } })
    const received = inbox(b)
    const before = pair.log.length
    const sends = Array.from({ length: 1000 }, (_, i) => a.sendMessage(i % 3, pattern(100, i)))
    await Promise.all(sends)
    await received.count(1000)
    const frames = pair.log.slice(before).filter((entry) => entry.from === 'a')
    // 1000 × (100 + 5) bytes fit in one 256 KiB frame.
    expect(frames.map((f) => f.bytes[0])).toEqual([FRAME_KIND.BATCH])
    for (const channel of [0, 1, 2]) {
      const got = received.messages.filter((m) => m.channel === channel)
      got.forEach((m, k) => expect(same(m.bytes, pattern(100, channel + 3 * k))).toBe(true))
    }
    a.close()
  })

  test('a burst worth several frames hands each full BATCH to the transport while it runs', async () => {
    const { a, b, pair } = await connect({ transport: { log: true } })
    const received = inbox(b)
    const before = pair.log.length
    const frame = a.chunkBytes
    const size = 1000
    // Frames each sent by the time the loop reached that message (synchronously, same turn).
    const sentDuring: number[] = []
    const sends: Array<Promise<void>> = []
    const count = Math.ceil((3.5 * frame) / (size + 5))
    for (let i = 0; i < count; i++) {
      sends.push(a.sendMessage(0, pattern(size, i)))
      sentDuring.push(pair.log.length - before)
    }
    expect(sentDuring[Math.floor(frame / (size + 5)) - 2]).toBe(0) // the first frame is not full yet
    expect(sentDuring.at(-1)).toBe(3) // three full frames left during the loop, the rest after it
    await Promise.all(sends)
    await received.count(count)
    const frames = pair.log.slice(before).filter((entry) => entry.from === 'a')
    expect(frames.map((f) => f.bytes[0])).toEqual(Array(4).fill(FRAME_KIND.BATCH))
    expect(frames.slice(0, 3).every((f) => f.bytes.byteLength > frame - size - 5)).toBe(true)
    received.messages.forEach((m, k) => expect(same(m.bytes, pattern(size, k))).toBe(true))
    a.close()
  })

  test('a 1 KiB message on another channel overtakes a 64 MiB transfer after at most one chunk', async () => {
    const { a, b } = await connect()
    const arrivals: string[] = []
    b.on('message', (channel) => arrivals.push(channel === 0 ? 'big' : 'small'))
    let chunks = 0
    let started!: () => void
    const firstChunk = new Promise<void>((resolve) => (started = resolve))
    const big = a.sendMessage(0, new Uint8Array(64 * 1024 * 1024), {
      onProgress: () => {
        chunks++
        started()
      },
    })
    await firstChunk
    const mark = chunks
    let between = -1
    const small = a.sendMessage(1, pattern(1024, 1)).then(() => (between = chunks - mark))
    await Promise.all([big, small])
    expect(between).toBeLessThanOrEqual(1)
    const done = inbox(b)
    await a.sendMessage(0, new Uint8Array(1)) // a barrier: channel 0 is ordered behind the big one
    await done.count(1)
    expect(arrivals.slice(0, 2)).toEqual(['small', 'big'])
    a.close()
  })

  test('progress is monotonic and ends at (total, total) exactly once', async () => {
    const { a } = await connect()
    const calls: Array<[number, number]> = []
    const total = 3 * 1024 * 1024 + 17
    await a.sendMessage(0, new Uint8Array(total), { onProgress: (s, t) => calls.push([s, t]) })
    expect(calls.length).toBeGreaterThan(5)
    expect(calls.every(([, t]) => t === total)).toBe(true)
    expect(calls.every(([s], i) => i === 0 || s > calls[i - 1]![0])).toBe(true)
    expect(calls.filter(([s]) => s === total)).toHaveLength(1)
    expect(calls.at(-1)).toEqual([total, total])
    const small: Array<[number, number]> = []
    await a.sendMessage(0, new Uint8Array(10), { onProgress: (s, t) => small.push([s, t]) })
    expect(small).toEqual([[10, 10]])
    a.close()
  })
})

describe('abort', () => {
  test('mid-send: rejects ERR_ABORTED and the receiver drops the partial message', async () => {
    const { a, b } = await connect()
    const received = inbox(b)
    const controller = new AbortController()
    let progressed = 0
    const big = a.sendMessage(0, new Uint8Array(8 * 1024 * 1024), {
      signal: controller.signal,
      onProgress: (sent) => {
        progressed = sent
        if (sent >= 1024 * 1024) controller.abort()
      },
    })
    expect((await rejection(big)).code).toBe('ERR_ABORTED')
    expect(progressed).toBeLessThan(8 * 1024 * 1024)
    // The same channel is free again; its next message arrives whole.
    await a.sendMessage(0, pattern(300_000, 5))
    await received.count(1)
    expect(received.messages).toHaveLength(1)
    expect(same(received.messages[0]!.bytes, pattern(300_000, 5))).toBe(true)
    expect(b.stats().reassembling).toBe(0)
    a.close()
  })

  test('a signal aborted before the send, or while queued, sends nothing', async () => {
    const { a, b, pair } = await connect({ transport: { log: true } })
    const before = pair.log.length
    expect(
      (await rejection(a.sendMessage(0, new Uint8Array(9), { signal: AbortSignal.abort() }))).code,
    ).toBe('ERR_ABORTED')
    const controller = new AbortController()
    const queued = a.sendMessage(0, new Uint8Array(9), { signal: controller.signal })
    controller.abort()
    expect((await rejection(queued)).code).toBe('ERR_ABORTED')
    const received = inbox(b)
    await a.sendMessage(1, new Uint8Array(2))
    await received.count(1)
    expect(received.messages.map((m) => m.channel)).toEqual([1])
    expect(pair.log.slice(before).filter((e) => e.from === 'a')).toHaveLength(1)
    a.close()
  })
})

describe('limits the sender respects', () => {
  test("a message over the peer's maxMessageBytes fails fast with ERR_TOO_LARGE", async () => {
    const { a, b, pair } = await connect({
      b: { maxMessageBytes: 1024 * 1024 },
      transport: { log: true },
    })
    const before = pair.log.length
    const error = await rejection(a.sendMessage(0, new Uint8Array(1024 * 1024 + 1)))
    expect(error.code).toBe('ERR_TOO_LARGE')
    expect(error.message).toMatch(/1 MiB.*maxMessageBytes/)
    expect(pair.log.length).toBe(before)
    const received = inbox(b)
    await a.sendMessage(0, new Uint8Array(1024 * 1024))
    await received.count(1)
    a.close()
  })

  test.each([
    ['maxReassembling', { maxReassembling: 2 }, [400_000, 400_001, 400_002, 400_003, 400_004]],
    [
      'maxReassemblyBytes',
      { maxReassemblyBytes: 1024 * 1024 },
      [600_000, 600_001, 600_002, 600_003],
    ],
  ] as const)(
    "large messages on many channels wait for the peer's %s",
    async (_name, limits, sizes) => {
      const { a, b } = await connect({ b: limits })
      const errors: PeerjectError[] = []
      b.on('error', (error) => errors.push(error))
      const received = inbox(b)
      const closed = new Promise<void>((resolve) => b.on('close', () => resolve()))
      await Promise.all(sizes.map((size, i) => a.sendMessage(i, pattern(size, i))))
      await Promise.race([received.count(sizes.length), closed])
      expect(errors).toEqual([])
      expect(b.closed).toBe(false)
      expect(received.messages.map((m) => m.bytes.byteLength).sort()).toEqual([...sizes].sort())
      a.close()
    },
  )
})

describe('closing', () => {
  test('close rejects pending sends, emits close once, and the peer sees ERR_PEER_LEFT', async () => {
    const { a, b } = await connect()
    const closes: Array<PeerjectError | undefined> = []
    a.on('close', (reason) => closes.push(reason))
    const peerClosed = new Promise<PeerjectError | undefined>((resolve) => b.on('close', resolve))
    let close!: () => void
    const started = new Promise<void>((resolve) => (close = resolve))
    const big = a.sendMessage(0, new Uint8Array(16 * 1024 * 1024), { onProgress: () => close() })
    const small = a.sendMessage(1, new Uint8Array(10))
    await started
    a.close()
    a.close()
    expect((await rejection(big)).code).toBe('ERR_CLOSED')
    await small
    expect(closes).toEqual([undefined])
    expect((await peerClosed)?.code).toBe('ERR_PEER_LEFT')
    expect((await rejection(a.sendMessage(0, new Uint8Array(1)))).code).toBe('ERR_CLOSED')
    expect((await rejection(b.sendMessage(0, new Uint8Array(1)))).code).toBe('ERR_PEER_LEFT')
    expect(a.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
  })

  test('close(reason) tells the peer why in an ERROR frame', async () => {
    const { a, b } = await connect()
    const peerClosed = new Promise<PeerjectError | undefined>((resolve) => b.on('close', resolve))
    a.close(new PeerjectError('ERR_DENIED', 'not allowed here'))
    const reason = await peerClosed
    expect(reason?.code).toBe('ERR_DENIED')
    expect(reason?.message).toMatch(/not allowed here/)
  })

  test('sends made before ready are kept in order and go out once the HELLOs are done', async () => {
    const pair = createMemoryTransportPair()
    const a = new WireSession(pair[0])
    const early = [a.sendMessage(0, pattern(10, 1)), a.sendMessage(0, pattern(400_000, 2))]
    const b = new WireSession(pair[1])
    const received = inbox(b)
    await Promise.all(early)
    await received.count(2)
    expect(received.messages.map((m) => m.bytes.byteLength)).toEqual([10, 400_000])
    a.close()
  })
})
