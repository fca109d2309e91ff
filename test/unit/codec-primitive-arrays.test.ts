/**
 * The codec's fast path for arrays of primitives (src/codec/primitive-arrays.ts): it must write
 * exactly what msgpackr writes, read exactly what msgpackr reads, and refuse whatever the scan
 * (src/codec/scan.ts) refuses, so that a peer cannot tell which path handled its bytes.
 */
import { Unpackr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { Codec } from '../../src/codec/index.js'
import { PACKR_OPTIONS } from '../../src/codec/codec.js'
import { NOT_PRIMITIVE_ARRAYS, PrimitiveArrays } from '../../src/codec/primitive-arrays.js'
import { scanBody } from '../../src/codec/scan.js'
import { HEADER_PLAIN } from '../../src/codec/tags.js'
import { isPeerjectError } from '../../src/errors.js'

/** A seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** Every boundary of msgpack's integer and float forms, and the odd numbers. */
const NUMBERS = [
  0,
  1,
  0x1f,
  0x20,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  2 ** 32 - 1,
  2 ** 32,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1.5,
  -2.25,
  NaN,
  Infinity,
  -Infinity,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 53 + 2,
  5e-324,
]

const STRING_LENGTHS = [0, 1, 4, 7, 8, 31, 32, 63, 64, 65, 255, 256, 1000]

function makeLeaf(next: () => number): unknown {
  const kind = next()
  if (kind < 0.35) {
    return next() < 0.5
      ? NUMBERS[Math.floor(next() * NUMBERS.length)]
      : Math.floor((next() - 0.5) * 2 ** (next() * 40))
  }
  if (kind < 0.7) {
    const length = STRING_LENGTHS[Math.floor(next() * STRING_LENGTHS.length)] as number
    // Mostly ASCII; sometimes a character msgpackr must write. (Not a lone surrogate: UTF-8
    // cannot carry one, and msgpackr writes it differently by string length.)
    const odd = ['é', '€', '😀']
    let text = ''
    for (let i = 0; i < length; i++) {
      text +=
        next() < 0.01
          ? odd[Math.floor(next() * odd.length)]
          : String.fromCharCode(32 + Math.floor(next() * 95))
    }
    return text
  }
  if (kind < 0.8) return next() < 0.5
  if (kind < 0.9) return null
  return undefined
}

function makeArray(next: () => number, depth = 0): unknown[] {
  const length = next() < 0.1 ? Math.floor(next() * 40) : Math.floor(next() * 6)
  const array: unknown[] = []
  for (let i = 0; i < length; i++) {
    array.push(depth < 4 && next() < 0.25 ? makeArray(next, depth + 1) : makeLeaf(next))
  }
  return array
}

/** What the standard path makes of a body: the scan's checks, then msgpackr. */
function standardDecode(
  bytes: Uint8Array,
  maxContainers: number,
  maxDecodedBytes: number,
): { ok: true; value: unknown } | { ok: false } {
  try {
    const end = scanBody(bytes, 1, maxContainers, false, maxDecodedBytes)
    if (end !== bytes.length) return { ok: false }
    return { ok: true, value: new Unpackr(PACKR_OPTIONS).unpack(bytes.subarray(1)) }
  } catch {
    return { ok: false }
  }
}

describe('arrays of primitives: the fast path', () => {
  it('writes the bytes msgpackr writes, and reads them back', () => {
    const codec = new Codec()
    const next = random(1)
    let fast = 0
    for (let i = 0; i < 3000; i++) {
      const value = makeArray(next)
      const bytes = codec.encodePrimitives(value)
      expect([...bytes]).toEqual([...codec.encode(value)])
      expect(codec.decode(bytes)).toEqual(value)
      if (new PrimitiveArrays().pack(value, HEADER_PLAIN) !== undefined) fast++
    }
    // Most cases took the fast path (the others hold a non-ASCII string, or a long array).
    expect(fast).toBeGreaterThan(1000)
  })

  it('packs the forms at each boundary as msgpackr does', () => {
    const arrays = new PrimitiveArrays()
    const codec = new Codec()
    const cases: unknown[][] = [
      NUMBERS,
      STRING_LENGTHS.map((length) => 'x'.repeat(length)),
      ['y'.repeat(0xffff)],
      new Array(15).fill(1),
      new Array(16).fill(1),
      new Array(0xffff).fill(null),
      [[[[]]], [true, false, null, undefined]],
    ]
    for (const value of cases) {
      const bytes = arrays.pack(value, HEADER_PLAIN)
      expect(bytes).toBeDefined()
      expect([...(bytes as Uint8Array)]).toEqual([...codec.encode(value)])
    }
  })

  it('leaves to msgpackr what it does not write: non-ASCII text, 64 Ki items, objects', () => {
    const arrays = new PrimitiveArrays()
    for (const value of [
      ['é'],
      ['\ud800'],
      ['z'.repeat(0x10000)],
      new Array(0x10000).fill(0),
      [{}],
      [1n],
      [Symbol('s')],
      [() => 1],
      [new Uint8Array(1)],
    ]) {
      expect(arrays.pack(value, HEADER_PLAIN)).toBeUndefined()
    }
    // What it gave up on left nothing behind: the next message is whole.
    const bytes = arrays.pack([1, 'a'], HEADER_PLAIN) as Uint8Array
    expect([...bytes]).toEqual([HEADER_PLAIN, 0x92, 1, 0xa1, 0x61])
  })

  it('earlier results stay intact as later ones fill and outgrow the output buffer', () => {
    const arrays = new PrimitiveArrays()
    const codec = new Codec()
    const next = random(2)
    const kept: Array<[Uint8Array, number[]]> = []
    for (let i = 0; i < 2000; i++) {
      const value = i % 500 === 0 ? new Array(5000).fill(2 ** 40 + i) : makeArray(next)
      const bytes = arrays.pack(value, HEADER_PLAIN)
      if (bytes !== undefined) kept.push([bytes, [...codec.encode(value)]])
    }
    for (const [bytes, expected] of kept) expect([...bytes]).toEqual(expected)
  })

  it('reads only what the standard path reads, to the same value, from damaged bytes', () => {
    const arrays = new PrimitiveArrays()
    const next = random(3)
    const outcomes = { read: 0, refused: 0 }
    for (let i = 0; i < 20000; i++) {
      const bytes = (
        arrays.pack(makeArray(next), HEADER_PLAIN) ?? Uint8Array.of(HEADER_PLAIN, 0x90)
      ).slice()
      const damage = Math.floor(next() * 3)
      if (damage === 1)
        bytes[1 + Math.floor(next() * (bytes.length - 1))] = Math.floor(next() * 256)
      const input =
        damage === 2 ? bytes.subarray(0, 1 + Math.floor(next() * (bytes.length - 1))) : bytes
      // Small limits, so that depth and size refusals happen too.
      const value = arrays.unpack(input, 1, 3, 2000)
      const standard = standardDecode(input, 3, 2000)
      if (value === NOT_PRIMITIVE_ARRAYS) {
        outcomes.refused++
        continue
      }
      outcomes.read++
      expect(standard).toEqual({ ok: true, value })
    }
    expect(outcomes.read).toBeGreaterThan(5000)
    expect(outcomes.refused).toBeGreaterThan(5000)
  })

  it('refuses what the scan refuses; the codec then throws the standard coded errors', () => {
    const arrays = new PrimitiveArrays()
    const codec = new Codec({ maxDepth: 3, maxDecodedBytes: 1000 })
    const message = (value: unknown[]): Uint8Array => codec.encodePrimitives(value).slice()
    const cases: Array<[Uint8Array, string]> = [
      [message([[[[1]]]]), 'ERR_TOO_LARGE'], // four containers, maxDepth 3
      [message([new Array(200).fill(1)]), 'ERR_TOO_LARGE'], // ~1.7 KB estimated
      [message(['x'.repeat(2000)]), 'ERR_TOO_LARGE'],
      [Uint8Array.of(...message([1, 2]), 0), 'ERR_BAD_MESSAGE'], // a byte after the value
      [message([1, 'abc']).subarray(0, 5), 'ERR_BAD_MESSAGE'], // truncated
      [Uint8Array.of(HEADER_PLAIN, 0x9f), 'ERR_BAD_MESSAGE'], // 15 items promised, none there
      [Uint8Array.of(HEADER_PLAIN, 0x91, 0xc1), 'ERR_BAD_MESSAGE'], // 0xC1 outside tags
    ]
    for (const [bytes, code] of cases) {
      expect(arrays.unpack(bytes, 1, 3, 1000)).toBe(NOT_PRIMITIVE_ARRAYS)
      let thrown: unknown
      try {
        codec.decode(bytes)
      } catch (error) {
        thrown = error
      }
      expect(isPeerjectError(thrown) && thrown.code).toBe(code)
    }
  })

  it('the table of short strings never answers with another string of its slot', () => {
    const codec = new Codec()
    const next = random(4)
    // Thousands of distinct short strings for 509 slots: most slots see several.
    for (let i = 0; i < 5000; i++) {
      const length = 1 + Math.floor(next() * 7)
      let text = ''
      for (let j = 0; j < length; j++) text += String.fromCharCode(32 + Math.floor(next() * 95))
      expect(codec.decode(codec.encodePrimitives([text, i]))).toEqual([text, i])
    }
  })
})
