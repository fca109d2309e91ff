/**
 * Byte streams over the wire: round trip, end-to-end backpressure with bounded memory, cancel by
 * the reader, abort by the writer, buffering before accept, and refusals (timeout, maxStreams).
 */
import { describe, expect, test } from 'vitest'
import { PeerjectError } from '../../src/errors.js'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import { WireSession } from '../../src/wire/index.js'
import type { WireLimits } from '../../src/wire/index.js'

async function connect(b: Partial<WireLimits> = {}) {
  const pair = createMemoryTransportPair()
  const a = new WireSession(pair[0])
  const session = new WireSession(pair[1], { limits: b })
  await Promise.all([a.ready, session.ready])
  return { a, b: session }
}

/** Resolves once a message sent a → b → a has come back: everything sent before it has arrived. */
async function roundTrip(a: WireSession, b: WireSession): Promise<void> {
  const back = new Promise<void>((resolve) => {
    const off = a.on('message', (channel) => {
      if (channel === 200) {
        off()
        resolve()
      }
    })
  })
  const offB = b.on('message', (channel) => {
    if (channel !== 201) return
    offB()
    void b.sendMessage(200, new Uint8Array(0))
  })
  await a.sendMessage(201, new Uint8Array(0))
  await back
}

function chunkOf(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i + seed) & 0xff)
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  const reader = stream.getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return Buffer.concat(parts)
    parts.push(value)
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return error instanceof PeerjectError ? error.code : `not a PeerjectError: ${String(error)}`
  }
}

describe('streams', () => {
  test('round trip of 3 MiB in uneven chunks', async () => {
    const { a, b } = await connect()
    const out = a.openStream(0)
    const chunks = [1, 70_000, 300_000, 5, 2_800_000].map((n, i) => chunkOf(n, i))
    const reading = readAll(b.acceptStream(out.id))
    for (const chunk of chunks) await out.write(chunk)
    await out.end()
    expect(Buffer.compare(await reading, Buffer.concat(chunks))).toBe(0)
    await roundTrip(a, b)
    expect([a.stats().openStreams, b.stats().openStreams]).toEqual([0, 0])
    a.close()
  })

  test('a reader that does not read stalls the writer after the window; memory stays bounded', async () => {
    const window = 64 * 1024
    const { a, b } = await connect({ streamWindowBytes: window })
    const out = a.openStream(0)
    const reader = b.acceptStream(out.id).getReader()
    const piece = 16 * 1024
    const total = 2 * 1024 * 1024
    let handed = 0
    let consumed = 0
    let most = 0
    let windowFull!: () => void
    const full = new Promise<void>((resolve) => (windowFull = resolve))
    const writing = (async () => {
      for (let sent = 0; sent < total; sent += piece) {
        await out.write(chunkOf(piece, sent))
        handed += piece
        most = Math.max(most, handed - consumed)
        if (handed === window) windowFull()
      }
      await out.end()
    })()
    await full
    await roundTrip(a, b)
    await roundTrip(a, b)
    expect(handed).toBe(window) // stalled: nothing beyond the window while nobody reads
    const received: Uint8Array[] = []
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      consumed += value.byteLength
      received.push(value)
    }
    await writing
    expect(consumed).toBe(total)
    expect(most).toBeLessThanOrEqual(window)
    const expected = Array.from({ length: total / piece }, (_, i) => chunkOf(piece, i * piece))
    expect(Buffer.compare(Buffer.concat(received), Buffer.concat(expected))).toBe(0)
    a.close()
  })

  test("cancel() on the reader aborts the writer's stream", async () => {
    const { a, b } = await connect({ streamWindowBytes: 32 * 1024 })
    const out = a.openStream(0)
    const reader = b.acceptStream(out.id).getReader()
    const write = out.write(new Uint8Array(200 * 1024)) // more than the window: stays pending
    await reader.read()
    await reader.cancel('no thanks')
    expect(await codeOf(write)).toBe('ERR_ABORTED')
    expect(await codeOf(out.write(new Uint8Array(1)))).toBe('ERR_CLOSED')
    await roundTrip(a, b)
    expect([a.stats().openStreams, b.stats().openStreams]).toEqual([0, 0])
    a.close()
  })

  test('abort() by the writer errors the reader with its reason', async () => {
    const { a, b } = await connect()
    const out = a.openStream(0)
    const reader = b.acceptStream(out.id).getReader()
    await out.write(new Uint8Array(10))
    out.abort(new PeerjectError('ERR_DENIED', 'changed my mind'))
    expect((await reader.read()).value?.byteLength).toBe(10)
    expect(await codeOf(reader.read())).toBe('ERR_DENIED')
    a.close()
  })

  test('data sent before acceptStream is buffered and delivered on accept', async () => {
    const { a, b } = await connect()
    const out = a.openStream(0)
    await out.write(chunkOf(40_000, 3))
    await out.end()
    await roundTrip(a, b)
    expect(b.stats().openStreams).toBe(1)
    const got = await readAll(b.acceptStream(out.id))
    expect(Buffer.compare(got, chunkOf(40_000, 3))).toBe(0)
    expect(b.stats().openStreams).toBe(0)
    a.close()
  })

  test('a stream never accepted is refused after streamAcceptTimeoutMs', async () => {
    const { a, b } = await connect({ streamAcceptTimeoutMs: 50, streamWindowBytes: 16 * 1024 })
    const out = a.openStream(0)
    expect(await codeOf(out.write(new Uint8Array(64 * 1024)))).toBe('ERR_TIMEOUT')
    expect(await codeOf(b.acceptStream(out.id).getReader().read())).toBe('ERR_TIMEOUT')
    await roundTrip(a, b)
    expect(b.stats().openStreams).toBe(0)
    a.close()
  })

  test('a sender opens no more streams than the peer’s maxStreams: ERR_QUOTA, nothing sent', async () => {
    const { a, b } = await connect({ maxStreams: 2, streamWindowBytes: 16 * 1024 })
    const streams = [a.openStream(0), a.openStream(0)]
    let refused: unknown
    try {
      a.openStream(0)
    } catch (error) {
      refused = error
    }
    expect(refused).toMatchObject({ code: 'ERR_QUOTA' })
    const readers = streams.map((s) => readAll(b.acceptStream(s.id)))
    await Promise.all(streams.map((s) => s.write(new Uint8Array(20 * 1024))))
    await Promise.all(streams.map((s) => s.end()))
    expect((await Promise.all(readers)).map((r) => r.byteLength)).toEqual([20 * 1024, 20 * 1024])
    a.openStream(0).abort(new PeerjectError('ERR_ABORTED', 'done')) // ended streams free slots
    a.close()
  })

  test('streams the receiver still holds count: one more is refused with ERR_QUOTA; the session lives on', async () => {
    const { a, b } = await connect({ maxStreams: 2, streamWindowBytes: 16 * 1024 })
    // Sent and ended (the sender forgets them), never accepted: the receiver still holds both.
    for (const stream of [a.openStream(0), a.openStream(0)]) {
      await stream.write(new Uint8Array(1024))
      await stream.end()
    }
    const third = a.openStream(0)
    expect(await codeOf(third.write(new Uint8Array(20 * 1024)))).toBe('ERR_QUOTA')
    expect(b.closed).toBe(false)
    a.close()
  })

  test('closing the session errors accepted streams and rejects pending writes', async () => {
    const { a, b } = await connect({ streamWindowBytes: 16 * 1024 })
    const out = a.openStream(0)
    const reader = b.acceptStream(out.id).getReader()
    const write = out.write(new Uint8Array(64 * 1024))
    await reader.read()
    b.close(new PeerjectError('ERR_DENIED', 'bye'))
    expect(await codeOf(reader.read())).toBe('ERR_DENIED')
    expect(await codeOf(write)).toBe('ERR_DENIED')
    expect(await codeOf(b.acceptStream(99).getReader().read())).toBe('ERR_CLOSED')
  })
})
