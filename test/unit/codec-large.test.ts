import { describe, expect, it } from 'vitest'
import { Codec } from '../../src/codec/index.js'

const MiB = 1024 * 1024

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
})
