/**
 * SnapshotPool: the memory of large snapshot copies is recycled after their send, never while a
 * copy is still lent, never twice, within its bounds, and dropped after a quiet spell. Also
 * through the codec: `encodeParts` then `recycle`, and the next large value is copied into the
 * same memory and still decodes as itself.
 */
import { afterEach, describe, expect, test, vi } from 'vitest'
import { Codec, PART_MIN_BYTES } from '../../src/codec/codec.js'
import { SNAPSHOT_POOL, SnapshotPool } from '../../src/codec/snapshot-pool.js'

const MiB = 1024 * 1024

function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte)
}

afterEach(() => {
  vi.useRealTimers()
})

describe('SnapshotPool', () => {
  test('a copy is equal to its source and shares no memory with it', () => {
    const pool = new SnapshotPool()
    const source = filled(MiB, 7)
    const copy = pool.copy(source)
    expect(copy.byteLength).toBe(MiB)
    expect(copy.every((byte) => byte === 7)).toBe(true)
    expect(copy.buffer).not.toBe(source.buffer)
    source.fill(1)
    expect(copy[0]).toBe(7)
  })

  test('recycled memory serves the next copy of a fitting size, holding exactly the new bytes', () => {
    const pool = new SnapshotPool()
    const first = pool.copy(filled(MiB, 1))
    const memory = first.buffer
    pool.recycle([first])
    expect(pool.spareBytes).toBe(MiB)
    const second = pool.copy(filled(MiB - 10, 2))
    expect(second.buffer).toBe(memory)
    expect(second.byteLength).toBe(MiB - 10)
    expect(second.every((byte) => byte === 2)).toBe(true)
    expect(pool.spareBytes).toBe(0)
  })

  test('memory still lent is never handed out again; a part is taken back once', () => {
    const pool = new SnapshotPool()
    const a = pool.copy(filled(MiB, 1))
    const b = pool.copy(filled(MiB, 2)) // `a` not recycled yet: new memory
    expect(b.buffer).not.toBe(a.buffer)
    pool.recycle([a, a, a])
    expect(pool.spareBytes).toBe(MiB)
    const c = pool.copy(filled(MiB, 3))
    const d = pool.copy(filled(MiB, 4))
    expect(c.buffer).toBe(a.buffer)
    expect(d.buffer).not.toBe(a.buffer)
    expect(b[0]).toBe(2)
  })

  test('arrays it did not lend are ignored; a spare over twice the size asked for is not used', () => {
    const pool = new SnapshotPool()
    pool.recycle([filled(MiB, 1)])
    expect(pool.spareBytes).toBe(0)
    const big = pool.copy(filled(4 * MiB, 1))
    pool.recycle([big])
    expect(pool.copy(filled(MiB, 2)).buffer).not.toBe(big.buffer)
    expect(pool.spareBytes).toBe(4 * MiB)
  })

  test('spare memory stays within maxSpareBytes', () => {
    const pool = new SnapshotPool()
    const size = SNAPSHOT_POOL.maxSpareBytes / 2
    const copies = [1, 2, 3].map((byte) => pool.copy(filled(size, byte)))
    pool.recycle(copies)
    expect(pool.spareBytes).toBe(SNAPSHOT_POOL.maxSpareBytes)
  })

  test('spares are dropped after idleMs without use, not before', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const pool = new SnapshotPool()
    pool.recycle([pool.copy(filled(MiB, 1))])
    vi.advanceTimersByTime(SNAPSHOT_POOL.idleMs / 2)
    // Used again half-way: the quiet spell starts over.
    pool.recycle([pool.copy(filled(MiB, 2))])
    vi.advanceTimersByTime(SNAPSHOT_POOL.idleMs * 0.75)
    expect(pool.spareBytes).toBe(MiB)
    vi.advanceTimersByTime(SNAPSHOT_POOL.idleMs)
    expect(pool.spareBytes).toBe(0)
  })
})

describe('through the codec', () => {
  test('encodeParts snapshots into recycled memory, and each value decodes as itself', () => {
    const codec = new Codec()
    const join = (parts: Uint8Array[]) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
      let at = 0
      for (const part of parts) {
        out.set(part, at)
        at += part.byteLength
      }
      return out
    }
    const source = filled(4 * PART_MIN_BYTES, 5)
    const first = codec.encodeParts({ data: source })
    const firstBytes = join(first)
    const lent = first.filter((part) => part.byteLength === source.byteLength)
    expect(lent).toHaveLength(1)
    codec.recycle(first)
    source.fill(6)
    const second = codec.encodeParts({ data: source })
    expect(second.some((part) => part.buffer === lent[0]!.buffer)).toBe(true)
    const decodedFirst = codec.decode(firstBytes) as { data: Uint8Array }
    const decodedSecond = codec.decode(join(second)) as { data: Uint8Array }
    expect(decodedFirst.data.every((byte) => byte === 5)).toBe(true)
    expect(decodedSecond.data.every((byte) => byte === 6)).toBe(true)
  })
})
