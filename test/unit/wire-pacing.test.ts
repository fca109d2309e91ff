/**
 * Bulk pacing (src/wire/scheduler.ts, docs/architecture.md "Latency during bulk"): DATA bytes in
 * flight (handed to the transport, not yet acknowledged by the peer's ACK frames) stay under the
 * window, and under the small interactive window while small messages are being exchanged. The
 * transports here have a 64 MiB high-water mark, so without the window everything would be handed
 * over at once. In-flight is computed from the transport log (global send order): an ACK counts
 * from the moment the peer sent it, so this is a lower bound of what the sender saw, and the
 * assertions bound the sender's window plus one frame.
 */
import { describe, expect, test } from 'vitest'
import { createMemoryTransportPair } from '../../src/transport/memory.js'
import type { MemoryLogEntry } from '../../src/transport/memory.js'
import { FRAME_KIND, WireSession } from '../../src/wire/index.js'
import { parseFrame } from '../../src/wire/frame-parser.js'
import { OutgoingMessage } from '../../src/wire/outgoing-message.js'
import { BULK_PACING, Scheduler } from '../../src/wire/scheduler.js'

const MiB = 1024 * 1024

async function connect() {
  const pair = createMemoryTransportPair({ highWaterMark: 64 * MiB, log: true })
  const a = new WireSession(pair[0])
  const b = new WireSession(pair[1])
  await Promise.all([a.ready, b.ready])
  return { a, b, log: pair.log }
}

interface Walk {
  /** Largest DATA-bytes-in-flight seen at any DATA frame `a` sent (log order). */
  maxInFlight: number
  /** DATA frames from a, with the in-flight after each and whether it came during pings. */
  frames: Array<{ bytes: number; inFlight: number; index: number }>
  acked: number
  sent: number
}

function walk(log: readonly MemoryLogEntry[]): Walk {
  const out: Walk = { maxInFlight: 0, frames: [], acked: 0, sent: 0 }
  log.forEach((entry, index) => {
    const kind = entry.bytes[0]
    if (entry.from === 'a' && kind === FRAME_KIND.DATA) {
      out.sent += entry.bytes.byteLength
      const inFlight = out.sent - out.acked
      out.maxInFlight = Math.max(out.maxInFlight, inFlight)
      out.frames.push({ bytes: entry.bytes.byteLength, inFlight, index })
    } else if (entry.from === 'b' && kind === FRAME_KIND.ACK) {
      const frame = parseFrame(entry.bytes)
      if (frame.kind === FRAME_KIND.ACK) out.acked += frame.bytes
    }
  })
  return out
}

describe('bulk window', () => {
  test('a 24 MiB message keeps at most the window (plus one frame) in flight, and every byte is acknowledged', async () => {
    const { a, b, log } = await connect()
    const received = new Promise<Uint8Array>((resolve) =>
      b.on('message', (_c, bytes) => resolve(bytes)),
    )
    await a.sendMessage(0, new Uint8Array(24 * MiB).fill(7))
    expect((await received).byteLength).toBe(24 * MiB)
    const result = walk(log)
    expect(result.maxInFlight).toBeGreaterThan(MiB) // the window is used, not one frame at a time
    expect(result.maxInFlight).toBeLessThanOrEqual(BULK_PACING.windowBytes + a.chunkBytes)
    // The receiver acknowledges at the end of each message: nothing is left counted in flight.
    await expect.poll(() => walk(log).acked).toBe(result.sent)
  })

  test('the sender asks for an ACK a few times per window, not with every frame', async () => {
    const { a, b, log } = await connect()
    const received = new Promise<Uint8Array>((resolve) =>
      b.on('message', (_c, bytes) => resolve(bytes)),
    )
    const total = 24 * MiB
    await a.sendMessage(0, new Uint8Array(total))
    await received
    await expect.poll(() => walk(log).acked).toBe(walk(log).sent)
    let frames = 0
    let requests = 0
    let acks = 0
    for (const entry of log) {
      const frame = parseFrame(entry.bytes)
      if (entry.from === 'a' && frame.kind === FRAME_KIND.DATA) {
        frames++
        if (frame.ackRequested) requests++
      } else if (entry.from === 'b' && frame.kind === FRAME_KIND.ACK) {
        acks++
      }
    }
    const perRequest = BULK_PACING.windowBytes * BULK_PACING.ackRequestFraction
    expect(requests).toBeGreaterThanOrEqual(Math.floor(total / perRequest) - 1)
    expect(requests).toBeLessThanOrEqual(Math.ceil(total / perRequest) + 1)
    expect(frames).toBeGreaterThan(2 * requests) // not every frame asks
    // At most one ACK per request, plus one at the message's end (requests that arrive together
    // are answered by one ACK), and every byte was acknowledged (above).
    expect(acks).toBeGreaterThan(0)
    expect(acks).toBeLessThanOrEqual(requests + 1)
  })

  test('while small messages go back and forth, bulk shrinks to the interactive window and frame size', async () => {
    const { a, b, log } = await connect()
    b.on('message', (channel, bytes) => {
      if (channel === 1) void b.sendMessage(1, bytes) // echo pings
    })
    let pongs = 0
    let pong: (() => void) | undefined
    a.on('message', (channel) => {
      if (channel === 1) {
        pongs++
        pong?.()
      }
    })
    let done = false
    const transfer = a.sendMessage(0, new Uint8Array(16 * MiB)).then(() => {
      done = true
    })
    const pingsAt: number[] = []
    while (!done) {
      pingsAt.push(log.length)
      const answered = new Promise<void>((resolve) => (pong = resolve))
      await a.sendMessage(1, new Uint8Array(1024))
      await answered
    }
    await transfer
    expect(pongs).toBeGreaterThan(10)
    const result = walk(log)
    // From the second ping on (the first found the full window already handed over) until the
    // last one, bulk is paced.
    const from = pingsAt[1]!
    const to = pingsAt.at(-1)!
    const during = result.frames.filter((frame) => frame.index > from && frame.index < to)
    expect(during.length).toBeGreaterThan(10)
    for (const frame of during) {
      expect(frame.bytes).toBeLessThanOrEqual(BULK_PACING.interactiveFrameBytes)
    }
    const tail = during.slice(during.length >> 1) // once the early full window has drained
    expect(Math.max(...tail.map((frame) => frame.inFlight))).toBeLessThanOrEqual(
      BULK_PACING.interactiveWindowBytes + BULK_PACING.interactiveFrameBytes,
    )
  })
})

describe('turns between small messages and bulk', () => {
  const KiB = 1024
  /** A scheduler with no session behind it (its pump requests are ignored), opened. */
  const opened = (): Scheduler => {
    const scheduler = new Scheduler(
      () => undefined,
      () => undefined,
    )
    scheduler.open(
      {
        maxChunkBytes: 64 * KiB,
        maxMessageBytes: 64 * MiB,
        maxReassembling: 4,
        maxReassemblyBytes: 64 * MiB,
        maxStreams: 4,
        streamWindowBytes: MiB,
      },
      64 * KiB,
    )
    return scheduler
  }
  const small = (): OutgoingMessage =>
    new OutgoingMessage(1, new Uint8Array(100), {}, () => undefined)
  /** `next()` then `handed()`: the kind of the frame that went out, or undefined. */
  const send = (scheduler: Scheduler): number | undefined => {
    const frame = scheduler.next()
    scheduler.handed()
    return frame?.[0]
  }

  test('a small message does not wait behind a fresh bulk frame when bulk was only waiting for an ACK', () => {
    const scheduler = opened()
    scheduler.message(new OutgoingMessage(0, new Uint8Array(4 * MiB), {}, () => undefined))
    expect(send(scheduler)).toBe(FRAME_KIND.DATA) // no small message yet: full-size bulk
    scheduler.acked(scheduler.inFlight)
    scheduler.message(small()) // the session turns interactive
    expect(send(scheduler)).toBe(FRAME_KIND.BATCH)
    expect(send(scheduler)).toBe(FRAME_KIND.DATA) // bulk's turn: the window was open
    expect(scheduler.inFlight).toBeLessThanOrEqual(BULK_PACING.interactiveWindowBytes)
    expect(send(scheduler)).toBeUndefined() // the interactive window is full: waits for an ACK
    scheduler.message(small())
    expect(send(scheduler)).toBe(FRAME_KIND.BATCH) // sent while bulk waited for its ACK …
    scheduler.acked(scheduler.inFlight)
    scheduler.message(small())
    expect(send(scheduler)).toBe(FRAME_KIND.BATCH) // … so the next small message goes first too
    expect(send(scheduler)).toBe(FRAME_KIND.DATA)
  })

  test('bulk still gets every other turn while small messages keep coming and the window is open', () => {
    const scheduler = opened()
    scheduler.message(new OutgoingMessage(0, new Uint8Array(4 * MiB), {}, () => undefined))
    const kinds: Array<number | undefined> = []
    for (let i = 0; i < 6; i++) {
      scheduler.message(small())
      kinds.push(send(scheduler))
      kinds.push(send(scheduler))
      scheduler.acked(scheduler.inFlight)
    }
    expect(kinds).toEqual(
      Array.from({ length: 6 }, () => [FRAME_KIND.BATCH, FRAME_KIND.DATA]).flat(),
    )
  })
})
