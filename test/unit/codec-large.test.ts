import { describe, expect, it } from 'vitest'
import { Codec } from '../../src/codec/index.js'
import { joinInto, totalLength } from '../../src/bytes.js'
import { PART_MIN_BYTES } from '../../src/codec/codec.js'

const MiB = 1024 * 1024

const join = (parts: Uint8Array[]): Uint8Array =>
  joinInto(parts, new Uint8Array(totalLength(parts)))

describe('large binary leaves', () => {
  it('a 100 MiB Uint8Array inside an object: copied once to encode, a view when decoded', () => {
    const codec = new Codec()
    const size = 100 * MiB
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i += 4093) data[i] = i % 251
    data[size - 1] = 7
    const before = process.memoryUsage().arrayBuffers

    const bytes = codec.encode({ name: 'big', data, tail: [1, 2, 3] })
    const afterEncode = process.memoryUsage().arrayBuffers
    const decoded = codec.decode(bytes) as { name: string; data: Uint8Array; tail: number[] }
    const afterDecode = process.memoryUsage().arrayBuffers

    expect(bytes.length).toBeLessThan(size + 1024)
    // Encoding allocates the message (the one copy) and nothing of that size besides it.
    expect(afterEncode - before).toBeLessThan(size * 1.2)
    // Decoding shares the message's memory.
    expect(afterDecode - afterEncode).toBeLessThan(1 * MiB)
    expect(decoded.data.buffer).toBe(bytes.buffer)
    expect(Object.getPrototypeOf(decoded.data)).toBe(Uint8Array.prototype)
    expect(decoded.data.length).toBe(size)
    for (let i = 0; i < size; i += 4093) {
      if (decoded.data[i] !== i % 251) throw new Error(`byte ${i} differs`)
    }
    expect(decoded.data[size - 1]).toBe(7)
    expect(decoded.name).toBe('big')
    expect(decoded.tail).toEqual([1, 2, 3])
  })

  it('a 32 MiB Float64Array arrives as an aligned view', () => {
    const codec = new Codec()
    const values = new Float64Array((32 * MiB) / 8)
    values[0] = Math.PI
    values[values.length - 1] = -0
    const bytes = codec.encode([{ values }])
    const decoded = codec.decode(bytes) as Array<{ values: Float64Array }>
    const arrived = decoded[0]?.values
    expect(arrived?.buffer).toBe(bytes.buffer)
    expect(arrived?.[0]).toBe(Math.PI)
    expect(Object.is(arrived?.[values.length - 1], -0)).toBe(true)
  })

  it('encodeParts: large leaves are parts of their own, copied at the call; the parts concatenate to encode()', () => {
    const codec = new Codec()
    const big = new Uint8Array(PART_MIN_BYTES + 5).fill(1)
    const bigger = new Float64Array(PART_MIN_BYTES / 4).fill(2.5) // 2 × PART_MIN_BYTES bytes
    const small = new Uint8Array(100).fill(3)
    const middle = new Uint8Array(20 * 1024).fill(4) // above the inline limit, below PART_MIN_BYTES
    const value = {
      a: big,
      b: bigger,
      c: small,
      d: middle,
      e: [big.subarray(1, PART_MIN_BYTES + 2)],
    }
    const parts = codec.encodeParts(value)
    const whole = codec.encode(value)
    expect(Buffer.compare(Buffer.from(join(parts)), Buffer.from(whole))).toBe(0)
    // header + body | big | pad | bigger | pad + middle | pad | big's view
    expect(parts.filter((part) => part.byteLength >= PART_MIN_BYTES)).toHaveLength(3)
    for (const part of parts) expect(part.byteLength).toBeGreaterThan(0)
    // Snapshot: the caller may change its buffers once encodeParts returns.
    big.fill(9)
    bigger.fill(-1)
    const decoded = codec.decode(join(parts)) as typeof value
    expect(decoded.a.every((byte) => byte === 1)).toBe(true)
    expect(decoded.b.every((x) => x === 2.5)).toBe(true)
    expect(decoded.c.every((byte) => byte === 3)).toBe(true)
    expect(decoded.d.every((byte) => byte === 4)).toBe(true)
    expect(decoded.e[0]!.byteLength).toBe(PART_MIN_BYTES + 1)
    expect(decoded.e[0]!.every((byte) => byte === 1)).toBe(true)
  })

  it("encodeParts without a snapshot returns views of the caller's large buffers", () => {
    const codec = new Codec()
    const big = new Uint8Array(PART_MIN_BYTES)
    const parts = codec.encodeParts({ big }, undefined, false)
    expect(parts.some((part) => part.buffer === big.buffer)).toBe(true)
    expect(codec.encodeParts({ big }).some((part) => part.buffer === big.buffer)).toBe(false)
  })
})
