/**
 * The memory transport honours the Transport contract (src/transport/transport.ts): async in-order
 * delivery, copies, buffering before listen, close reaching both sides, ERR_CLOSED / ERR_TOO_LARGE,
 * backpressure through `send`, the sent-message log and latency.
 */
import { describe, expect, test } from 'vitest'
import { PeerjectError } from '../../src/errors.js'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import type { MemoryTransport } from '../../src/transport/memory.js'

function recorder(transport: MemoryTransport) {
  const messages: number[][] = []
  const waiters: Array<() => void> = []
  const closed = new Promise<PeerjectError | undefined>((resolveClose) => {
    transport.listen({
      message: (bytes) => {
        messages.push([...bytes])
        for (const wake of waiters.splice(0)) wake()
      },
      close: resolveClose,
    })
  })
  const count = async (n: number): Promise<void> => {
    while (messages.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  return { messages, closed, count }
}

/** Whether `promise` is still pending after everything already queued has run. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  const tick = new Promise((resolve) => setImmediate(() => resolve(marker)))
  return (await Promise.race([promise.then(() => 'settled'), tick])) === marker
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return error instanceof PeerjectError ? error.code : 'not a PeerjectError'
  }
}

describe('memory transport', () => {
  test('delivers in order, asynchronously, never inside send', async () => {
    const [a, b] = createMemoryTransportPair()
    let inSend = false
    const seen: boolean[] = []
    const got: number[] = []
    b.listen({
      message: (bytes) => {
        seen.push(inSend)
        got.push(bytes[0]!)
      },
      close: () => undefined,
    })
    for (let i = 0; i < 50; i++) {
      inSend = true
      void a.send(Uint8Array.of(i))
      inSend = false
    }
    expect(got).toEqual([])
    const rb = recorder(a)
    await b.send(Uint8Array.of(1))
    await rb.count(1)
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(seen.every((s) => !s)).toBe(true)
  })

  test('send copies the bytes', async () => {
    const [a, b] = createMemoryTransportPair()
    const r = recorder(b)
    const bytes = Uint8Array.of(1, 2, 3)
    await a.send(bytes.subarray(1))
    bytes[1] = 99
    await r.count(1)
    expect(r.messages).toEqual([[2, 3]])
  })

  test('messages sent before listen are buffered, not lost', async () => {
    const [a, b] = createMemoryTransportPair()
    await a.send(Uint8Array.of(1))
    await a.send(Uint8Array.of(2))
    expect(b.state).toBe('open')
    const r = recorder(b)
    await r.count(2)
    expect(r.messages).toEqual([[1], [2]])
  })

  test('close reaches both sides; the other side gets ERR_PEER_LEFT after earlier messages', async () => {
    const [a, b] = createMemoryTransportPair()
    const ra = recorder(a)
    const rb = recorder(b)
    void a.send(Uint8Array.of(7))
    const reason = new PeerjectError('ERR_DENIED', 'go')
    a.close(reason)
    a.close()
    expect(a.state).toBe('closed')
    expect(await ra.closed).toBe(reason)
    expect((await rb.closed)?.code).toBe('ERR_PEER_LEFT')
    expect(rb.messages).toEqual([[7]])
    expect(b.state).toBe('closed')
    expect(await codeOf(a.send(Uint8Array.of(1)))).toBe('ERR_CLOSED')
    expect(await codeOf(b.send(Uint8Array.of(1)))).toBe('ERR_CLOSED')
  })

  test('a message over maxMessageSize rejects ERR_TOO_LARGE', async () => {
    const [a] = createMemoryTransportPair({ maxMessageSize: 1000 })
    expect(a.maxMessageSize).toBe(1000)
    expect(await codeOf(a.send(new Uint8Array(1000)))).toBe('resolved')
    expect(await codeOf(a.send(new Uint8Array(1001)))).toBe('ERR_TOO_LARGE')
  })

  test('send resolves only while the receiver holds at most the high-water mark', async () => {
    const [a, b] = createMemoryTransportPair({ highWaterMark: 1000 })
    await a.send(new Uint8Array(600))
    const second = a.send(new Uint8Array(600))
    expect(a.bufferedAmount).toBe(1200)
    expect(await pending(second)).toBe(true)
    recorder(b) // the receiver starts taking messages: the buffer drains
    await second
    expect(a.bufferedAmount).toBe(0)
  })

  test('closing rejects sends waiting for the buffer to drain', async () => {
    const [a] = createMemoryTransportPair({ highWaterMark: 10 })
    const waiting = a.send(new Uint8Array(11))
    a.close()
    expect(await codeOf(waiting)).toBe('ERR_CLOSED')
  })

  test('the log records every message sent, by side', async () => {
    const pair = createMemoryTransportPair({ log: true })
    const [a, b] = pair
    const rb = recorder(b)
    recorder(a)
    await a.send(Uint8Array.of(1))
    await b.send(Uint8Array.of(2, 2))
    await a.send(Uint8Array.of(3))
    await rb.count(2)
    expect(pair.log.map((e) => [e.from, [...e.bytes]])).toEqual([
      ['a', [1]],
      ['b', [2, 2]],
      ['a', [3]],
    ])
    expect(createMemoryTransportPair().log).toEqual([])
  })

  test('latencyMs delays delivery', async () => {
    const [a, b] = createMemoryTransportPair({ latencyMs: 40 })
    const r = recorder(b)
    const start = performance.now()
    await a.send(Uint8Array.of(1))
    await a.send(Uint8Array.of(2))
    await r.count(2)
    expect(performance.now() - start).toBeGreaterThanOrEqual(38)
    expect(r.messages).toEqual([[1], [2]])
  })

  test('listen may be called once', () => {
    const [a] = createMemoryTransportPair()
    a.listen({ message: () => undefined, close: () => undefined })
    expect(() => a.listen({ message: () => undefined, close: () => undefined })).toThrow(
      PeerjectError,
    )
  })
})
