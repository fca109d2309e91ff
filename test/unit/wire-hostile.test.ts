/**
 * A hostile peer writing frames straight into the transport: each protocol or limit violation
 * closes the session with a coded error (emitted as `error`, and sent to the peer in an ERROR
 * frame); then ≥ 10^4 random and mutated frames, after which the process lives, every close has a
 * code, nothing is left held, and Object.prototype is untouched.
 */
import { describe, expect, test } from 'vitest'
import { PeerjectError, isErrorCode } from '../../src/errors.js'
import type { ErrorCode } from '../../src/errors.js'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import type { Transport } from '../../src/transport/transport.js'
import {
  DATA_LAYOUT,
  FRAME_KIND,
  encodeAck,
  encodeCancel,
  encodeCredit,
  encodeError,
  encodeHello,
  encodeStreamEnd,
  encodeStreamReason,
  writeDataHeader,
  writeStreamHeader,
} from '../../src/wire/frame.js'
import { parseFrame } from '../../src/wire/frame-parser.js'
import { WireSession } from '../../src/wire/index.js'
import type { WireLimits } from '../../src/wire/index.js'
import { prng } from '../helpers/prng.js'

const PEER_HELLO = encodeHello({
  maxChunkBytes: 256 * 1024,
  maxMessageBytes: 1 << 30,
  maxReassembling: 64,
  maxReassemblyBytes: 1 << 30,
  maxStreams: 64,
  streamWindowBytes: 1 << 20,
})

/** A session on side b; side a is driven by hand. */
function hostile(limits: Partial<WireLimits> = {}) {
  const [raw, transport] = createMemoryTransportPair({ maxMessageSize: 1024 * 1024 })
  const received: Uint8Array[] = []
  const rawClosed = new Promise<void>((resolve) =>
    raw.listen({ message: (bytes) => received.push(bytes), close: () => resolve() }),
  )
  const session = new WireSession(transport, { limits })
  const errors: PeerjectError[] = []
  session.on('error', (error) => errors.push(error))
  const closed = new Promise<PeerjectError | undefined>((resolve) => session.on('close', resolve))
  const send = (bytes: Uint8Array): void => {
    raw.send(bytes).catch(() => undefined)
  }
  return { session, raw, received, rawClosed, errors, closed, send }
}

function data(channel: number, id: number, offset: number, total: number, length: number) {
  const frame = new Uint8Array(DATA_LAYOUT.SIZE + length)
  writeDataHeader(frame, channel, id, offset, total)
  return frame
}

/** A BATCH frame of one entry of `length` bytes on channel 0. */
function batchOf(length: number): Uint8Array {
  const frame = new Uint8Array(4 + 5 + length)
  const view = new DataView(frame.buffer)
  frame[0] = FRAME_KIND.BATCH
  view.setUint16(2, 1)
  view.setUint32(4, length)
  return frame
}

function streamData(id: number, length: number): Uint8Array {
  const frame = new Uint8Array(8 + length)
  writeStreamHeader(frame, FRAME_KIND.STREAM_DATA, id)
  return frame
}

describe('violations close the session with a code', () => {
  const cases: Array<[string, Partial<WireLimits>, Uint8Array[], ErrorCode]> = [
    ['data before the HELLO', {}, [data(0, 0, 0, 1, 1)], 'ERR_BAD_MESSAGE'],
    ['a second HELLO', {}, [PEER_HELLO, PEER_HELLO], 'ERR_BAD_MESSAGE'],
    [
      'a HELLO of version 9',
      {},
      [
        encodeHello(
          {
            maxChunkBytes: 2048,
            maxMessageBytes: 1,
            maxReassembling: 1,
            maxReassemblyBytes: 1,
            maxStreams: 1,
            streamWindowBytes: 1,
          },
          9,
        ),
      ],
      'ERR_VERSION',
    ],
    [
      'a HELLO with 100-byte frames',
      {},
      [
        encodeHello({
          maxChunkBytes: 100,
          maxMessageBytes: 1,
          maxReassembling: 1,
          maxReassemblyBytes: 1,
          maxStreams: 1,
          streamWindowBytes: 1,
        }),
      ],
      'ERR_BAD_MESSAGE',
    ],
    ['an unknown frame kind', {}, [PEER_HELLO, Uint8Array.of(0x42, 0, 0, 0)], 'ERR_BAD_MESSAGE'],
    [
      'a frame over the advertised size',
      { maxChunkBytes: 64 * 1024 },
      [PEER_HELLO, data(0, 0, 0, 100_000, 100_000)],
      'ERR_TOO_LARGE',
    ],
    [
      'a total over maxMessageBytes',
      { maxMessageBytes: 1000 },
      [PEER_HELLO, data(0, 0, 0, 2000, 10)],
      'ERR_TOO_LARGE',
    ],
    [
      'a total of 4 GiB with default limits',
      {},
      [PEER_HELLO, data(0, 0, 0, 0xffffffff, 10)],
      'ERR_TOO_LARGE',
    ],
    [
      'a chunk of a message never started',
      {},
      [PEER_HELLO, data(0, 5, 10, 100, 10)],
      'ERR_BAD_MESSAGE',
    ],
    [
      'an offset gap',
      {},
      [PEER_HELLO, data(0, 1, 0, 100, 10), data(0, 1, 20, 100, 10)],
      'ERR_BAD_MESSAGE',
    ],
    [
      'a chunk changing channel',
      {},
      [PEER_HELLO, data(0, 1, 0, 100, 10), data(1, 1, 10, 100, 10)],
      'ERR_BAD_MESSAGE',
    ],
    [
      'a restarted message',
      {},
      [PEER_HELLO, data(0, 1, 0, 100, 10), data(0, 1, 0, 100, 10)],
      'ERR_BAD_MESSAGE',
    ],
    [
      'too many messages reassembling',
      { maxReassembling: 2 },
      [PEER_HELLO, data(0, 1, 0, 99, 1), data(0, 2, 0, 99, 1), data(0, 3, 0, 99, 1)],
      'ERR_QUOTA',
    ],
    [
      'too many bytes reassembling',
      { maxReassemblyBytes: 150 },
      [PEER_HELLO, data(0, 1, 0, 100, 1), data(0, 2, 0, 100, 1)],
      'ERR_QUOTA',
    ],
    [
      'stream data beyond its credit',
      { streamWindowBytes: 1000 },
      [PEER_HELLO, streamData(1, 600), streamData(1, 600)],
      'ERR_QUOTA',
    ],
    ['an ACK when nothing is in flight', {}, [PEER_HELLO, encodeAck(1)], 'ERR_BAD_MESSAGE'],
    [
      'stream data after its end',
      {},
      [PEER_HELLO, streamData(1, 6), encodeStreamEnd(1), streamData(1, 6)],
      'ERR_BAD_MESSAGE',
    ],
    [
      'a BATCH entry over maxMessageBytes',
      { maxMessageBytes: 100 },
      [PEER_HELLO, batchOf(1000)],
      'ERR_TOO_LARGE',
    ],
  ]

  test.each(cases)('%s', async (_name, limits, frames, code) => {
    const peer = hostile(limits)
    for (const frame of frames) peer.send(frame)
    const reason = await peer.closed
    expect(reason?.code).toBe(code)
    expect(peer.errors.map((e) => e.code)).toEqual([code])
    await peer.rawClosed
    const last = parseFrame(peer.received.at(-1)!)
    expect(last.kind === FRAME_KIND.ERROR && last.code).toBe(code)
    expect(peer.session.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
  })

  test.each([
    ['data after the end of an accepted stream', [streamData(1, 6)]],
    ['a second end of an accepted stream', [encodeStreamEnd(1)]],
  ])('%s', async (_name, late) => {
    const peer = hostile()
    peer.send(PEER_HELLO)
    peer.send(streamData(1, 6))
    peer.send(encodeStreamEnd(1))
    const reader = peer.session.acceptStream(1).getReader()
    let bytes = 0
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      bytes += read.value.byteLength
    }
    expect(bytes).toBe(6) // delivered in full and ended
    expect(peer.session.stats().openStreams).toBe(0)
    for (const frame of late) peer.send(frame)
    expect((await peer.closed)?.code).toBe('ERR_BAD_MESSAGE')
    // The same id cannot be accepted twice either (checked on a fresh session).
    const again = hostile()
    again.send(PEER_HELLO)
    again.send(streamData(1, 1))
    again.send(encodeStreamEnd(1))
    const first = again.session.acceptStream(1).getReader()
    while (!(await first.read()).done);
    const second = again.session.acceptStream(1).getReader()
    await expect(second.read()).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    again.session.close()
  })

  test('ERR_VERSION names both versions; ready rejects with it', async () => {
    const peer = hostile()
    peer.send(
      encodeHello(
        {
          maxChunkBytes: 2048,
          maxMessageBytes: 1,
          maxReassembling: 1,
          maxReassemblyBytes: 1,
          maxStreams: 1,
          streamWindowBytes: 1,
        },
        4,
      ),
    )
    await expect(peer.session.ready).rejects.toThrow(/version 4.*version 3/)
  })

  test('no HELLO within helloTimeoutMs: ready rejects ERR_TIMEOUT', async () => {
    const peer = hostile({ helloTimeoutMs: 30 })
    await expect(peer.session.ready).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    expect((await peer.closed)?.code).toBe('ERR_TIMEOUT')
  })

  test('an ERROR frame from the peer closes with its code (unknown codes: ERR_PEER_LEFT)', async () => {
    const peer = hostile()
    peer.send(PEER_HELLO)
    peer.send(encodeError({ code: 'ERR_RATE_LIMITED', message: 'slow down' }))
    expect((await peer.closed)?.code).toBe('ERR_RATE_LIMITED')
    const other = hostile()
    other.send(PEER_HELLO)
    other.send(encodeError({ code: 'ERR_FROM_THE_FUTURE', message: '?' }))
    expect((await other.closed)?.code).toBe('ERR_PEER_LEFT')
  })
})

test('10^4 random and mutated frames: coded closes only, nothing held, no prototype pollution', async () => {
  const rand = prng(0x5eed)
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort()
  const limits: Partial<WireLimits> = {
    maxMessageBytes: 64 * 1024,
    maxReassembling: 4,
    maxReassemblyBytes: 128 * 1024,
    maxChunkBytes: 4096,
    maxStreams: 4,
    streamWindowBytes: 8192,
    streamAcceptTimeoutMs: 20,
  }
  const extremes = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 65536]
  // Mostly valid traffic (so sessions live long enough to build state), a share of it mutated.
  let partial: { channel: number; id: number; offset: number; total: number } | undefined
  let nextId = 0
  const valid = (): Uint8Array => {
    const streamId = 1 + rand.below(6)
    switch (rand.below(12)) {
      case 0:
      case 1:
      case 2: {
        if (partial === undefined || rand.below(4) === 0) {
          const total = rand.below(9000)
          partial = { channel: rand.below(4), id: nextId++, offset: 0, total }
        }
        const { channel, id, offset, total } = partial
        const length = Math.min(total - offset, 1 + rand.below(3000))
        partial.offset += length
        if (partial.offset >= total) partial = undefined
        return data(channel, id, offset, total, length)
      }
      case 3: {
        const count = 1 + rand.below(5)
        const parts: number[] = [0x03, 0, 0, count]
        for (let i = 0; i < count; i++) {
          const n = rand.below(40)
          parts.push(0, 0, 0, n, rand.below(3), ...rand.bytes(n))
        }
        return Uint8Array.from(parts)
      }
      case 4:
        return encodeCancel(rand.below(nextId + 1))
      case 5:
      case 6:
        return streamData(streamId, 1 + rand.below(2000))
      case 7:
        return encodeStreamEnd(streamId)
      case 8:
        return encodeCredit(streamId, 1 + rand.below(100_000))
      case 9:
        return encodeStreamReason(
          rand.below(2) === 0 ? FRAME_KIND.STREAM_ABORT : FRAME_KIND.STREAM_CANCEL,
          streamId,
          { code: 'ERR_ABORTED', message: 'x' },
        )
      case 10:
        return rand.below(4) === 0 ? rand.bytes(rand.below(64)) : streamData(streamId, 100)
      default: {
        const pick = rand.below(20)
        if (pick === 0) return encodeError({ code: 'ERR_DENIED', message: 'bye' })
        if (pick === 2) return encodeAck(extremes[rand.below(extremes.length)]! || 1)
        return pick === 1 ? PEER_HELLO : encodeCancel(rand.next())
      }
    }
  }
  const mutate = (frame: Uint8Array): Uint8Array => {
    const copy = Uint8Array.from(frame)
    switch (rand.below(5)) {
      case 0:
        if (copy.byteLength > 0) copy[rand.below(copy.byteLength)] = rand.next() & 0xff
        return copy
      case 1:
        return copy.subarray(0, rand.below(copy.byteLength + 1))
      case 2:
        return Uint8Array.from([...copy, ...rand.bytes(1 + rand.below(16))])
      case 3: {
        if (copy.byteLength < 8) return copy
        const at = 4 * rand.below(Math.floor(copy.byteLength / 4))
        new DataView(copy.buffer).setUint32(at, extremes[rand.below(extremes.length)]!)
        return copy
      }
      default:
        copy[0] = rand.below(16)
        return copy
    }
  }

  let delivered = 0
  let violations = 0
  let sessions = 0
  const codes = new Set<string>()
  while (delivered < 10_000) {
    sessions++
    partial = undefined
    const [raw, transport] = createMemoryTransportPair({ maxMessageSize: 1024 * 1024 })
    raw.listen({ message: () => undefined, close: () => undefined })
    // Counts the frames the transport hands to the session (it stops once the session closes).
    const counting: Transport = {
      maxMessageSize: transport.maxMessageSize,
      get state() {
        return transport.state
      },
      send: (bytes) => transport.send(bytes),
      close: (reason) => transport.close(reason),
      listen: (listener) =>
        transport.listen({
          message: (bytes) => {
            delivered++
            listener.message(bytes)
          },
          close: (reason) => listener.close(reason),
        }),
    }
    const session = new WireSession(counting, { limits })
    const errors: PeerjectError[] = []
    session.on('error', (error) => errors.push(error))
    const closed = new Promise<PeerjectError | undefined>((resolve) => session.on('close', resolve))
    const send = (bytes: Uint8Array): void => void raw.send(bytes).catch(() => undefined)
    send(PEER_HELLO)
    for (let i = 0; i < 100; i++) {
      const frame = valid()
      send(rand.below(8) === 0 ? mutate(frame) : frame)
    }
    // Accept some streams so the credit and cancel paths run too.
    for (let id = 1; id <= 2; id++)
      void session
        .acceptStream(id)
        .cancel()
        .catch(() => undefined)
    raw.close()
    const reason = await closed
    expect(reason).toBeInstanceOf(PeerjectError)
    expect(isErrorCode(reason?.code)).toBe(true)
    codes.add(reason!.code)
    for (const error of errors) expect(isErrorCode(error.code)).toBe(true)
    if (errors.length > 0) violations++
    expect(session.stats()).toEqual({ reassembling: 0, queuedFrames: 0, openStreams: 0 })
  }
  expect(violations).toBeGreaterThan(sessions / 2)
  expect([...codes].sort()).toEqual(
    expect.arrayContaining(['ERR_BAD_MESSAGE', 'ERR_QUOTA', 'ERR_TOO_LARGE']),
  )
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys)
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
})

describe('memory a peer can make a receiver hold', () => {
  test('tiny stream chunks nobody reads yet are gathered, not queued one by one', async () => {
    const peer = hostile()
    peer.send(PEER_HELLO)
    const reader = peer.session.acceptStream(1).getReader()
    const first = reader.read() // waiting: the first byte goes straight to it
    // 5,000 one-byte frames within credit: each held as its own view would cost ~200 bytes.
    for (let i = 0; i < 5000; i++) peer.send(streamData(1, 1))
    peer.send(encodeStreamEnd(1))
    const chunks = [(await first).value as Uint8Array]
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value)
    }
    expect(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)).toBe(5000)
    expect(chunks.length).toBeLessThanOrEqual(3)
    expect(peer.session.stats().openStreams).toBe(0)
    peer.session.close()
  })
})
