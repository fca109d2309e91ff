import { describe, expect, it } from 'vitest'
import { Codec } from '../../src/codec/index.js'
import { assertSameValue, codecCaseClasses, codecCases } from './codec-cases.js'

describe('codec round-trip table', () => {
  const codec = new Codec({ classes: codecCaseClasses() })
  for (const testCase of codecCases()) {
    it(testCase.name, () => {
      const original = testCase.value()
      const bytes = codec.encode(original)
      expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype)
      const decoded = codec.decode(bytes)
      if (testCase.check !== undefined) testCase.check(decoded, original)
      else assertSameValue(decoded, original)
    })
  }
})

describe('codec round-trip details', () => {
  const codec = new Codec()
  const roundTrip = (value: unknown): unknown => codec.decode(codec.encode(value))

  it('the table checker itself fails on differences (so the table can fail)', () => {
    expect(() => assertSameValue(-0, 0)).toThrow()
    expect(() => assertSameValue(new Uint8Array(1), new Int8Array(1))).toThrow(/prototype/)
    expect(() =>
      assertSameValue(
        [{}, {}],
        (() => {
          const shared = {}
          return [shared, shared]
        })(),
      ),
    ).toThrow(/shared reference/)
    expect(() => assertSameValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toThrow(/keys/)
  })

  it('encodePrimitives writes the bytes encode writes, without the walk', () => {
    const messages = [
      ['call', 2, 1, ['add'], [2, 'x', null, undefined, true, NaN, Infinity, 1.5, 2 ** 40]],
      [
        ['release', 2, 1],
        ['pull', 3],
      ],
      [],
    ]
    for (const message of messages) {
      const bytes = codec.encodePrimitives(message)
      expect([...bytes]).toEqual([...codec.encode(message)])
      expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype)
      expect(codec.decode(bytes)).toEqual(message)
    }
  })

  it('a Node Buffer arrives as a plain Uint8Array', () => {
    const decoded = roundTrip({ data: Buffer.from('héllo') }) as { data: Uint8Array }
    expect(Object.getPrototypeOf(decoded.data)).toBe(Uint8Array.prototype)
    expect(new TextDecoder().decode(decoded.data)).toBe('héllo')
  })

  it('decodes a Buffer input and returns no Buffers', () => {
    const bytes = codec.encode({ u: new Uint8Array([1, 2]), f: new Float32Array([1.5]) })
    const decoded = codec.decode(Buffer.from(bytes)) as { u: Uint8Array; f: Float32Array }
    expect(Object.getPrototypeOf(decoded.u)).toBe(Uint8Array.prototype)
    expect(Object.getPrototypeOf(decoded.f)).toBe(Float32Array.prototype)
    expect([...decoded.u]).toEqual([1, 2])
    expect([...decoded.f]).toEqual([1.5])
  })

  it('large binary leaves are aligned views of the message; copies only when misaligned', () => {
    const large = new Float64Array(4096).fill(2.5) // 32 KiB: binary section
    const bytes = codec.encode({ a: large, b: new Uint8Array(20_000).fill(4) })
    const aligned = new Uint8Array(bytes.length + 8)
    aligned.set(bytes, 8)
    const decoded = codec.decode(aligned.subarray(8)) as { a: Float64Array; b: Uint8Array }
    expect(decoded.a.buffer).toBe(aligned.buffer)
    expect(decoded.b.buffer).toBe(aligned.buffer)
    const shifted = new Uint8Array(bytes.length + 1)
    shifted.set(bytes, 1)
    const copied = codec.decode(shifted.subarray(1)) as { a: Float64Array; b: Uint8Array }
    expect(copied.a.buffer).not.toBe(shifted.buffer) // element size 8 at an odd offset: copied
    expect(copied.b.buffer).toBe(shifted.buffer) // element size 1: always a view
    expect(copied.a).toEqual(large)
  })

  it('small binary leaves are packed inline and decode as views where aligned', () => {
    const value = { bytes: new Uint8Array([1, 2, 3]), floats: new Float64Array([1.5, -2]) }
    const encoded = codec.encode(value)
    let views = 0
    for (let shift = 0; shift < 8; shift++) {
      const message = new Uint8Array(encoded.length + shift)
      message.set(encoded, shift)
      const decoded = codec.decode(message.subarray(shift)) as typeof value
      expect(decoded.bytes.buffer).toBe(message.buffer)
      assertSameValue(decoded, value)
      if (decoded.floats.buffer === message.buffer) views++
    }
    expect(views).toBe(1)
  })

  it('plain JSON-like data needs no revive walk (header flag clear)', () => {
    const plain = { a: [1, 'x', null, true, 2n, new Date(0), undefined, NaN, new Uint8Array(3)] }
    expect(codec.encode(plain)[0]).toBe(0x10)
    expect(codec.encode(new Uint8Array(16 * 1024))[0]).toBe(0x11)
    expect(codec.encode(new Int8Array(1))[0]).toBe(0x11)
    expect(codec.encode({ a: -0 })[0]).toBe(0x11)
    expect(codec.encode(new Map())[0]).toBe(0x11)
    const shared = {}
    expect(codec.encode([shared, shared])[0]).toBe(0x11)
  })

  it('does not copy plain input objects nor mutate them', () => {
    const input = { a: { b: [1, 2, { c: new Map([[1, 2]]) }] } }
    const snapshot = JSON.stringify(input.a.b.slice(0, 2))
    roundTrip(input)
    expect(input.a.b[2]).toEqual({ c: new Map([[1, 2]]) })
    expect(JSON.stringify(input.a.b.slice(0, 2))).toBe(snapshot)
  })

  it('keeps -0 in nested positions and Map keys normalise as in JS', () => {
    const decoded = roundTrip({ x: [-0], y: { z: -0 } }) as { x: number[]; y: { z: number } }
    expect(Object.is(decoded.x[0], -0)).toBe(true)
    expect(Object.is(decoded.y.z, -0)).toBe(true)
  })

  it('sends stacks only with includeStacks', () => {
    const error = new Error('boom')
    const without = new Codec().decode(new Codec().encode(error)) as Error
    expect(without.stack).toBe('Error: boom')
    expect(without.stack).not.toContain('codec')
    const withStacks = new Codec({ includeStacks: true })
    const decoded = withStacks.decode(withStacks.encode(error)) as Error
    expect(decoded.stack).toBe(error.stack)
    expect(Object.keys(decoded)).toEqual([])
    expect(Object.getOwnPropertyDescriptor(decoded, 'stack')?.enumerable).toBe(false)
  })

  it('rebuilds real errors with native-like own properties', () => {
    const original = new TypeError('bad', { cause: 1 })
    const decoded = roundTrip(original) as TypeError
    expect(decoded).toBeInstanceOf(TypeError)
    expect(Object.prototype.toString.call(decoded)).toBe('[object Error]')
    expect(Object.getOwnPropertyDescriptor(decoded, 'message')).toEqual(
      Object.getOwnPropertyDescriptor(original, 'message'),
    )
    expect(Object.getOwnPropertyDescriptor(decoded, 'cause')).toEqual(
      Object.getOwnPropertyDescriptor(original, 'cause'),
    )
  })

  it('PeerjectError keeps its code and class', async () => {
    const { PeerjectError, isPeerjectError } = await import('../../src/errors.js')
    const decoded = roundTrip(new PeerjectError('ERR_DENIED', 'no', { cause: new Error('why') }))
    expect(decoded).toBeInstanceOf(PeerjectError)
    expect(isPeerjectError(decoded, 'ERR_DENIED')).toBe(true)
    expect((decoded as Error).name).toBe('PeerjectError')
    expect(((decoded as Error).cause as Error).message).toBe('why')
  })
})

describe('codec buffers', () => {
  it('a large message does not leave later small ones pinning its buffer', () => {
    const codec = new Codec()
    const large = codec.encode({ text: 'x'.repeat(4 * 1024 * 1024) })
    expect(large.buffer.byteLength).toBeGreaterThanOrEqual(4 * 1024 * 1024)
    const small = codec.encode({ n: 1, text: 'small' })
    expect(small.buffer.byteLength).toBeLessThanOrEqual(1024 * 1024)
    expect(codec.decode(small)).toEqual({ n: 1, text: 'small' })
    expect((codec.decode(large) as { text: string }).text).toHaveLength(4 * 1024 * 1024)
  })
})
