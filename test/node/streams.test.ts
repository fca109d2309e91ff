/**
 * Issue 3, byte streams over real WebRTC between Node peers: a ReadableStream<Uint8Array> or an
 * async iterable (alone or inside a value) arrives as a ReadableStream; end-to-end backpressure
 * (a slow reader slows the source); cancel on the reader aborts the sender; an AbortSignal aborts
 * the stream on both sides; ~256 MiB stream intact with bounded memory.
 */
import { createHash, randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPeerjectError } from '../../src/index.js'
import type { SignalingServer } from '../../signaling/index.js'
import { nextMessage } from '../helpers/events.js'
import { nodePair } from '../helpers/node-pair.js'
import type { NodePair } from '../helpers/node-pair.js'
import { startSignaling } from '../helpers/signaling.js'
import { rejection } from '../helpers/rejection.js'

const KiB = 1024
const MiB = 1024 * KiB
/** The receiver's window in these tests (the default is 1 MiB). */
const WINDOW = 256 * KiB

let server: SignalingServer
let pair: NodePair

beforeAll(async () => {
  server = await startSignaling()
  pair = await nodePair(server.url, { b: { limits: { streamWindowBytes: WINDOW } } })
})
afterAll(async () => {
  pair.leave()
  await server.close()
})

/** Random bytes as a plain Uint8Array (not a Buffer). */
const randomBlock = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes))

/** Chunk `index` of a test stream: a fixed random block stamped with its index. */
function makeChunk(block: Uint8Array, index: number): Uint8Array {
  const chunk = block.slice()
  new DataView(chunk.buffer).setUint32(0, index)
  return chunk
}

/** A pull-driven source of `count` chunks that counts what was pulled out of it. */
function countingSource(count: number, chunkBytes: number) {
  const block = randomBlock(chunkBytes)
  const hash = createHash('sha256')
  const state = { pulled: 0, cancelled: undefined as unknown, digest: '' }
  let index = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (index === count) {
          state.digest = hash.digest('hex')
          controller.close()
          return
        }
        const chunk = makeChunk(block, index++)
        hash.update(chunk)
        state.pulled += chunk.byteLength
        controller.enqueue(chunk)
      },
      cancel(reason) {
        state.cancelled = reason
      },
    },
    { highWaterMark: 0 },
  )
  return { stream, state }
}

/** The chunks of `stream` (the DOM typings lack ReadableStream's async iterator). */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: number; sha: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of chunksOf(stream)) {
    expect(Object.getPrototypeOf(chunk)).toBe(Uint8Array.prototype)
    hash.update(chunk)
    bytes += chunk.byteLength
  }
  return { bytes, sha: hash.digest('hex') }
}

/** Resolves after `ms` (only to make a reader deliberately slow, never to wait for an event). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Both sides hold no stream, nothing queued, nothing in reassembly. */
async function expectNoState(p: NodePair): Promise<void> {
  // Everything the sender queued before this value (STREAM_ABORT/END, credit) arrives first.
  const marker = `settled-${crypto.randomUUID()}`
  const arrived = nextMessage(p.b, (value) => value === marker)
  await p.toB.send(marker)
  await arrived
  expect(p.toB.wire.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
  expect(p.toA.wire.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
}

describe('streams arrive as ReadableStreams', () => {
  it('a ReadableStream<Uint8Array> sent alone', async () => {
    const { stream, state } = countingSource(64, 64 * KiB)
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(stream)
    const { value } = await arrived
    expect(value).toBeInstanceOf(ReadableStream)
    const { bytes, sha } = await readAll(value as ReadableStream<Uint8Array>)
    await sent
    expect(bytes).toBe(4 * MiB)
    expect(sha).toBe(state.digest)
    await expectNoState(pair)
  })

  it('an async iterable, alone and inside an object (with other fields and a second stream)', async () => {
    const block = randomBlock(100 * KiB)
    async function* generate(count: number) {
      for (let i = 0; i < count; i++) yield makeChunk(block, i)
    }
    const expected = (count: number) => {
      const hash = createHash('sha256')
      for (let i = 0; i < count; i++) hash.update(makeChunk(block, i))
      return hash.digest('hex')
    }

    const alone = nextMessage(pair.b)
    const sentAlone = pair.toB.send(generate(10))
    const aloneValue = (await alone).value
    expect(aloneValue).toBeInstanceOf(ReadableStream)
    expect((await readAll(aloneValue as ReadableStream<Uint8Array>)).sha).toBe(expected(10))
    await sentAlone

    const nested = nextMessage(pair.b)
    const second = countingSource(3, 10 * KiB)
    // A plain object with an async iterator is a stream too, nested as at the top.
    const iterable = { [Symbol.asyncIterator]: () => generate(2) }
    const sentNested = pair.toB.send({
      name: 'upload.bin',
      body: generate(20),
      parts: [second.stream],
      size: 20 * 100 * KiB,
      extra: iterable,
    })
    const value = (await nested).value as {
      name: string
      body: ReadableStream<Uint8Array>
      parts: [ReadableStream<Uint8Array>]
      size: number
      extra: ReadableStream<Uint8Array>
    }
    expect(value.extra).toBeInstanceOf(ReadableStream)
    expect((await readAll(value.extra)).sha).toBe(expected(2))
    expect(value.name).toBe('upload.bin')
    expect(value.size).toBe(2000 * KiB)
    expect(value.body).toBeInstanceOf(ReadableStream)
    expect(value.parts[0]).toBeInstanceOf(ReadableStream)
    const [body, part] = await Promise.all([readAll(value.body), readAll(value.parts[0])])
    await sentNested
    expect(body.sha).toBe(expected(20))
    expect(part.sha).toBe(second.state.digest)
    await expectNoState(pair)
  })
})

describe('small chunks', () => {
  it('tiny chunks a source has ready travel together, intact and in order', async () => {
    // 20,000 chunks of 10 bytes, each numbered: one frame each ran at a few MiB/s.
    const count = 20_000
    let index = 0
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (index === count) return controller.close()
          const chunk = new Uint8Array(10)
          new DataView(chunk.buffer).setUint32(0, index++)
          controller.enqueue(chunk)
        },
      },
      { highWaterMark: 0 },
    )
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(stream)
    const { value } = await arrived
    const received: Uint8Array[] = []
    for await (const chunk of chunksOf(value as ReadableStream<Uint8Array>)) received.push(chunk)
    await sent
    const all = new Uint8Array(received.reduce((sum, chunk) => sum + chunk.byteLength, 0))
    let at = 0
    for (const chunk of received) {
      all.set(chunk, at)
      at += chunk.byteLength
    }
    expect(all.byteLength).toBe(count * 10)
    const view = new DataView(all.buffer)
    for (let i = 0; i < count; i += 997) expect(view.getUint32(i * 10)).toBe(i)
    expect(view.getUint32((count - 1) * 10)).toBe(count - 1)
    // Gathered into writes of about 16 KiB: some dozens of chunks, not 20,000.
    expect(received.length).toBeLessThan(200)
    await expectNoState(pair)
  })

  it('a large chunk after small ones is not copied into them', async () => {
    const large = new Uint8Array(200 * KiB).fill(9)
    const parts = [Uint8Array.of(1), Uint8Array.of(2), large, Uint8Array.of(3)]
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const next = parts.shift()
          if (next === undefined) controller.close()
          else controller.enqueue(next)
        },
      },
      { highWaterMark: 0 },
    )
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(stream)
    const { value } = await arrived
    const received: number[] = []
    let bytes = 0
    for await (const chunk of chunksOf(value as ReadableStream<Uint8Array>)) {
      received.push(chunk.byteLength)
      bytes += chunk.byteLength
    }
    await sent
    expect(bytes).toBe(3 + 200 * KiB)
    // The two small ones go together; the large one is framed by itself (cut to the frame size).
    expect(received[0]).toBe(2)
    expect(received.at(-1)).toBe(1)
  })
})

describe('backpressure and cancellation', () => {
  it('a slow reader slows the source: bytes pulled but not yet read stay within the window', async () => {
    const chunkBytes = 64 * KiB
    const count = 160 // 10 MiB
    const { stream, state } = countingSource(count, chunkBytes)
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(stream)
    const reader = ((await arrived).value as ReadableStream<Uint8Array>).getReader()
    let consumed = 0
    let maxAhead = 0
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      consumed += value.byteLength
      maxAhead = Math.max(maxAhead, state.pulled - consumed)
      await pause(2) // a slow consumer: about 30 MiB/s at most
    }
    await sent
    expect(consumed).toBe(count * chunkBytes)
    console.info(`slow reader: at most ${(maxAhead / KiB).toFixed(0)} KiB pulled ahead of reads`)
    // Unread bytes are bounded by the receiver's window plus the chunks in the sender's hands
    // (one read by the pump, one being written); without backpressure it would be ~10 MiB.
    expect(maxAhead).toBeLessThanOrEqual(WINDOW + 3 * chunkBytes)
    await expectNoState(pair)
  })

  it('cancel() on the reader aborts the sender: peer.send rejects, the source is cancelled', async () => {
    const { stream, state } = countingSource(1_000_000, 64 * KiB) // ~61 GiB if never stopped
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send({ file: stream })
    const received = ((await arrived).value as { file: ReadableStream<Uint8Array> }).file
    const reader = received.getReader()
    for (let i = 0; i < 8; i++) await reader.read()
    await reader.cancel(new Error('enough'))
    const error = await rejection(sent)
    expect(isPeerjectError(error, 'ERR_ABORTED')).toBe(true)
    expect((error as Error).message).toMatch(/cancelled/)
    expect(isPeerjectError(state.cancelled, 'ERR_ABORTED')).toBe(true)
    expect(state.pulled).toBeLessThan(8 * 64 * KiB + WINDOW + 4 * 64 * KiB)
    await expectNoState(pair)
  })

  it('cancel() also stops a sender waiting on a source that produces nothing', async () => {
    let cancelled: unknown
    const idle = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2, 3]))
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(idle)
    const reader = ((await arrived).value as ReadableStream<Uint8Array>).getReader()
    expect((await reader.read()).value).toEqual(new Uint8Array([1, 2, 3]))
    await reader.cancel()
    expect(isPeerjectError(await rejection(sent), 'ERR_ABORTED')).toBe(true)
    expect(isPeerjectError(cancelled, 'ERR_ABORTED')).toBe(true)
    await expectNoState(pair)
  })

  it('an AbortSignal aborts a stream mid-send on both sides', async () => {
    const { stream, state } = countingSource(1_000_000, 64 * KiB)
    const controller = new AbortController()
    const arrived = nextMessage(pair.b)
    const sent = pair.toB.send(stream, { signal: controller.signal })
    const reader = ((await arrived).value as ReadableStream<Uint8Array>).getReader()
    for (let i = 0; i < 4; i++) await reader.read()
    controller.abort()
    expect(isPeerjectError(await rejection(sent), 'ERR_ABORTED')).toBe(true)
    expect(isPeerjectError(state.cancelled, 'ERR_ABORTED')).toBe(true)
    // The reader sees the abort after the data that was already in flight.
    let failure: unknown
    try {
      for (;;) if ((await reader.read()).done) break
    } catch (error) {
      failure = error
    }
    expect(isPeerjectError(failure, 'ERR_ABORTED')).toBe(true)
    await expectNoState(pair)
  })

  it('a value that cannot be encoded opens no stream and releases the source', async () => {
    const { stream, state } = countingSource(10, KiB)
    const error = await rejection(pair.toB.send({ body: stream, onDone: () => undefined }))
    expect(isPeerjectError(error, 'ERR_UNSERIALIZABLE')).toBe(true)
    expect((error as Error).message).toContain('value.onDone')
    expect(isPeerjectError(state.cancelled, 'ERR_UNSERIALIZABLE')).toBe(true)
    expect(pair.toB.wire.stats().openStreams).toBe(0)
    await expectNoState(pair)
  })

  it('streams of a value nobody listens to are cancelled: send rejects ERR_CLOSED', async () => {
    const deaf = await nodePair(server.url) // no 'message' listener on either side
    try {
      const { stream, state } = countingSource(64, 64 * KiB)
      const error = await rejection(deaf.toB.send({ body: stream }))
      expect(isPeerjectError(error, 'ERR_CLOSED')).toBe(true)
      expect((error as Error).message).toContain("no 'message' listener")
      expect(state.cancelled).toBeDefined()
    } finally {
      deaf.leave()
    }
  })

  it('a value with more streams than the receiver’s maxStreams fails at once, ERR_QUOTA', async () => {
    const strict = await nodePair(server.url, { b: { limits: { maxStreams: 2 } } })
    try {
      const sources = [1, 2, 3].map(() => countingSource(2, KiB))
      const error = await rejection(strict.toB.send({ parts: sources.map((s) => s.stream) }))
      expect(isPeerjectError(error, 'ERR_QUOTA')).toBe(true)
      expect(strict.toB.wire.stats().openStreams).toBe(0) // the two opened are aborted
      const fine = [1, 2].map(() => countingSource(2, KiB))
      const arrived = nextMessage(strict.b)
      const sending = strict.toB.send({ parts: fine.map((s) => s.stream) })
      const { parts } = (await arrived).value as { parts: ReadableStream<Uint8Array>[] }
      const read = await Promise.all(parts.map((part) => readAll(part)))
      await sending
      expect(read.map((r) => r.sha)).toEqual(fine.map((s) => s.state.digest))
    } finally {
      strict.leave()
    }
  })
})

describe('volume', () => {
  it('~256 MiB streams intact with bounded memory', async () => {
    const big = await nodePair(server.url)
    try {
      const chunkBytes = 256 * KiB
      const count = 1024 // 256 MiB
      const { stream, state } = countingSource(count, chunkBytes)
      // A real collector run at each sample, so what is measured is live memory, not garbage
      // waiting for a lazy GC. (--expose-gc at runtime: vitest starts the worker without it.)
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as () => void
      gc()
      const before = process.memoryUsage()
      let peakLive = before.arrayBuffers
      let peakRss = before.rss
      let peakAhead = 0
      const arrived = nextMessage(big.b)
      const started = performance.now()
      const sent = big.toB.send(stream)
      const received = (await arrived).value as ReadableStream<Uint8Array>
      const hash = createHash('sha256')
      let consumed = 0
      let chunks = 0
      for await (const chunk of chunksOf(received)) {
        hash.update(chunk)
        consumed += chunk.byteLength
        peakAhead = Math.max(peakAhead, state.pulled - consumed)
        if (++chunks % 128 === 0) {
          peakRss = Math.max(peakRss, process.memoryUsage().rss)
          gc()
          gc() // the first may leave freed buffers to V8's concurrent sweeper; this one finishes it
          peakLive = Math.max(peakLive, process.memoryUsage().arrayBuffers)
        }
      }
      await sent
      const seconds = (performance.now() - started) / 1000
      const live = (peakLive - before.arrayBuffers) / MiB
      console.info(
        `256 MiB stream Node→Node: ${seconds.toFixed(2)} s (${(256 / seconds).toFixed(1)} MiB/s), ` +
          `at most ${(peakAhead / MiB).toFixed(2)} MiB in flight, peak live buffers +${live.toFixed(1)} MiB, ` +
          `peak RSS +${((peakRss - before.rss) / MiB).toFixed(0)} MiB (uncollected garbage included)`,
      )
      expect(consumed).toBe(count * chunkBytes)
      expect(hash.digest('hex')).toBe(state.digest)
      // Strict: in flight ≤ the default 1 MiB window + the sender's two chunks in hand.
      expect(peakAhead).toBeLessThanOrEqual(MiB + 2 * chunkBytes)
      // Live memory (both peers are in this process): a few MiB, not the 256 MiB a buffering
      // sender or receiver would hold.
      expect(live).toBeLessThan(16)
    } finally {
      big.leave()
    }
  })
})
