/**
 * decode treats bytes as hostile: every malformed input is a PeerjectError ERR_BAD_MESSAGE (or
 * ERR_TOO_LARGE for nesting), never another exception, never prototype pollution.
 */
import { C1, Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import { ClassRegistry, Codec } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'
import { codecCaseClasses, codecCases } from './codec-cases.js'
import { prng } from '../helpers/prng.js'

const codec = new Codec({ classes: codecCaseClasses() })
/** A plain msgpack writer, to craft bodies (C1 packs as the byte 0xC1). */
const craftPackr = new Packr({ useRecords: false })

function craft(header: number, body: unknown): Uint8Array {
  const packed = craftPackr.pack(body)
  const bytes = new Uint8Array(packed.length + 1)
  bytes[0] = header
  bytes.set(packed, 1)
  return bytes
}

function raw(...parts: Array<number | string | number[]>): Uint8Array {
  const out: number[] = []
  for (const part of parts) {
    if (typeof part === 'number') out.push(part)
    else if (typeof part === 'string') out.push(...new TextEncoder().encode(part))
    else out.push(...part)
  }
  return new Uint8Array(out)
}

/** Returns the error decode threw (asserting it is a PeerjectError), or undefined. */
function decodeError(bytes: Uint8Array, decoder = codec): PeerjectError | undefined {
  try {
    decoder.decode(bytes)
    return undefined
  } catch (error) {
    if (!(error instanceof PeerjectError)) {
      throw new Error(`decode threw a non-PeerjectError: ${String(error)}`, { cause: error })
    }
    return error
  }
}

function expectBad(bytes: Uint8Array, message?: RegExp): void {
  const error = decodeError(bytes)
  expect(error?.code).toBe('ERR_BAD_MESSAGE')
  if (message !== undefined) expect(error?.message).toMatch(message)
}

afterEach(() => {
  expect(Object.prototype).not.toHaveProperty('polluted')
  expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
})

describe('hostile bytes', () => {
  it('10000 random inputs: each decodes or fails with ERR_BAD_MESSAGE', () => {
    const randomBytes = prng(0x9e3779b9).bytes
    let failures = 0
    for (let i = 0; i < 10_000; i++) {
      const bytes = randomBytes(1 + (i % 64))
      // Most inputs get a valid header so the body parser is exercised, not only the header check.
      if (i % 4 !== 0) bytes[0] = i % 2 === 0 ? 0x10 : 0x11
      const error = decodeError(bytes)
      if (error !== undefined) {
        expect(error.code).toBe('ERR_BAD_MESSAGE')
        failures++
      }
    }
    expect(failures).toBeGreaterThan(9_000)
  })

  it('every truncation of every table encoding fails with ERR_BAD_MESSAGE', () => {
    for (const testCase of codecCases()) {
      const bytes = codec.encode(testCase.value())
      const step = Math.max(1, Math.floor(bytes.length / 300))
      for (let cut = 0; cut < bytes.length; cut += step) {
        const error = decodeError(bytes.slice(0, cut))
        expect([testCase.name, cut, error?.code]).toEqual([testCase.name, cut, 'ERR_BAD_MESSAGE'])
      }
    }
  })

  it('single-byte corruptions of table encodings decode or fail with a PeerjectError', () => {
    const randomBytes = prng(12345).bytes
    for (const testCase of codecCases()) {
      const bytes = codec.encode(testCase.value())
      for (let i = 0; i < Math.min(bytes.length, 40); i++) {
        const corrupt = bytes.slice()
        corrupt[i] = (corrupt[i] ?? 0) ^ (randomBytes(1)[0] || 1)
        const error = decodeError(corrupt)
        if (error !== undefined) expect(['ERR_BAD_MESSAGE', 'ERR_TOO_LARGE']).toContain(error.code)
      }
    }
  })

  it('rejects malformed framing', () => {
    expectBad(new Uint8Array(0), /empty/)
    expectBad(raw(0x10), /truncated/)
    expectBad(raw(0x99, 0xc0), /format byte 0x99/)
    expectBad(raw(0x10, 0xc0, 0xc0), /after the value/)
    expectBad(raw(0x10, 0xc5, 0xff), /truncated/)
    expectBad(raw(0x10, 0xc4, 3, 7), /truncated/)
    expectBad(raw(0x10, 0xc7, 0x01, 0x00, 0x05), /extension type 0x0/)
    expectBad(raw(0x10, 0xc1), /0xC1/) // tag byte in a plain message
    expectBad(raw(0x10, 0xdd, [0xff, 0xff, 0xff, 0xff], 0xc0), /longer than the message/)
    expectBad(raw(0x10, 0x81, 0x01, 0x02), /map key is not a string/)
    expectBad(raw(0x10, 0xd4, 0x74, 0x00), /extension type 0x74/) // msgpackr typed array
    expectBad(raw(0x10, 0xd6, 0x69, [0, 0, 0, 1], 0x90), /extension type 0x69/) // structured clone id
    expectBad(raw(0x10, 0xd6, 0x62, [0, 0, 0, 9], 0xc0), /extension type 0x62/) // bundled strings
    expectBad(raw(0x10, 0xd4, 0x72, 0x40, 0x91, 0xa1, 'a', 0x01), /extension type 0x72/) // record
    expectBad('not bytes' as unknown as Uint8Array, /Uint8Array/)
    expectBad(new ArrayBuffer(4) as unknown as Uint8Array, /Uint8Array/)
  })

  it('rejects malformed tags', () => {
    expectBad(craft(0x11, [C1, 0, 5]), /bad reference/)
    expectBad(craft(0x11, [C1, 99]), /unknown tag 99/)
    expectBad(craft(0x11, [C1, 3, 'odd']), /bad Map/)
    expectBad(craft(0x11, [C1, 5, 'a(', 'g']), /invalid RegExp/)
    expectBad(craft(0x11, [C1, 6, 0, 'Error', 5, null, false, undefined, null]), /bad Error/)
    expectBad(
      craft(0x11, [C1, 6, 42, 'Error', 'm', null, false, undefined, null]),
      /error class code 42/,
    )
    expectBad(craft(0x11, [C1, 7, 'Nope']), /class "Nope"/)
    expectBad(craft(0x11, [C1, 8, 1, 100]), /binary section is truncated/)
    expectBad(craft(0x11, [C1, 8, 4, new Uint8Array(3)]), /element size/)
    expectBad(craft(0x11, [C1, 8, 1, -1]), /bad binary/)
    expectBad(craft(0x11, [C1, 8, 77, 0]), /unknown binary type/)
    expectBad(craft(0x11, [C1, 9, 0, null]), /no references are accepted/)
    expectBad(craft(0x11, { a: [1, C1] }), /unexpected value/)
    const withPadding = craft(0x11, [C1, 1])
    expectBad(raw([...withPadding], 0, 0), /unexpected bytes/)
  })

  it('never pollutes prototypes', () => {
    const proto = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    ) as object
    const plain = codec.decode(craft(0x10, proto)) as Record<string, unknown>
    // msgpackr renames a raw "__proto__" map key; the codec itself never writes one.
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype)
    expect(Object.keys(plain)).toEqual(['__proto_', 'constructor'])
    const tagged = codec.decode(
      craft(0x11, [C1, 2, false, '__proto__', { polluted: true }]),
    ) as object
    expect(Object.getPrototypeOf(tagged)).toBe(Object.prototype)
    expect(Object.getOwnPropertyNames(tagged)).toEqual(['__proto__'])
    class Victim {}
    const classes = new ClassRegistry()
    classes.register(Victim)
    const instance = new Codec({ classes }).decode(
      craft(0x11, [
        C1,
        7,
        'Victim',
        '__proto__',
        { polluted: true },
        'constructor',
        { prototype: { polluted: true } },
      ]),
    )
    expect(Object.getPrototypeOf(instance)).toBe(Victim.prototype)
    expect((Victim.prototype as { polluted?: unknown }).polluted).toBeUndefined()
    const error = codec.decode(
      craft(0x11, [
        C1,
        6,
        0,
        'Error',
        'm',
        null,
        false,
        undefined,
        null,
        '__proto__',
        { polluted: true },
      ]),
    )
    expect(Object.getPrototypeOf(error)).toBe(Error.prototype)
    expect(Error.prototype).not.toHaveProperty('polluted')
  })

  it('round-trips an own __proto__ key as an own property', () => {
    const original = JSON.parse('{"__proto__":{"x":1}}') as object
    const decoded = codec.decode(codec.encode(original)) as object
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ x: 1 })
  })
})

describe('maxDepth', () => {
  function nested(depth: number, leaf: unknown = 0): unknown {
    let value: unknown = leaf
    for (let i = 0; i < depth; i++) value = [value]
    return value
  }

  it('defaults to 256 levels when encoding', () => {
    const plainCodec = new Codec()
    expect(() => plainCodec.encode(nested(256))).not.toThrow()
    let error: unknown
    try {
      plainCodec.encode(nested(257))
    } catch (caught) {
      error = caught
    }
    expect((error as PeerjectError).code).toBe('ERR_TOO_LARGE')
    expect((error as PeerjectError).message).toMatch(
      /^value(\[0\]){256} is nested deeper than maxDepth \(256 levels\)/,
    )
  })

  it('is enforced when decoding, for plain and tagged messages', () => {
    const sender = new Codec({ maxDepth: 10 })
    const receiver = new Codec({ maxDepth: 5 })
    expect(receiver.decode(sender.encode(nested(5)))).toEqual(nested(5))
    expect(decodeError(sender.encode(nested(6)), receiver)?.code).toBe('ERR_TOO_LARGE')
    expect(decodeError(sender.encode(nested(6, new Map())), receiver)?.code).toBe('ERR_TOO_LARGE')
    expect(decodeError(sender.encode(nested(5, new Map())), receiver)?.code).toBe('ERR_TOO_LARGE')
    expect(receiver.decode(sender.encode(nested(4, new Map())))).toEqual(nested(4, new Map()))
  })

  it('bounds hostile nesting without recursing (a million levels)', () => {
    const depth = 1_000_000
    const bytes = new Uint8Array(depth + 2)
    bytes[0] = 0x10
    bytes.fill(0x91, 1, depth + 1)
    bytes[depth + 1] = 0xc0
    expect(decodeError(bytes)?.code).toBe('ERR_TOO_LARGE')
    bytes[0] = 0x11
    expect(decodeError(bytes)?.code).toBe('ERR_TOO_LARGE')
  })

  it('does not count cycles as depth', () => {
    const cycle: Record<string, unknown> = {}
    cycle.next = { next: { next: cycle } }
    const small = new Codec({ maxDepth: 3 })
    const decoded = small.decode(small.encode(cycle)) as { next: { next: { next: unknown } } }
    expect(decoded.next.next.next).toBe(decoded)
  })
})

describe('maxDecodedBytes', () => {
  /** A plain message: an array of `count` copies of one token. */
  function arrayOf(count: number, token: number): Uint8Array {
    const bytes = new Uint8Array(1 + 5 + count)
    bytes[0] = craft(0x10, 0)[0] as number
    bytes[1] = 0xdd
    new DataView(bytes.buffer).setUint32(2, count)
    bytes.fill(token, 6)
    return bytes
  }

  it('refuses a message that would decode to many times its size, before building anything', () => {
    // 4 MiB of empty maps (0x80): ~64 bytes each once decoded, 256+ MiB in all.
    const bombs = arrayOf(4 * 1024 * 1024, 0x80)
    expect(() => new Codec().decode(bombs)).toThrow(
      expect.objectContaining({
        code: 'ERR_TOO_LARGE',
        message: expect.stringMatching(/maxDecodedBytes \(268435456 bytes, estimated\)/),
      }),
    )
    // Empty binaries (two bytes each, a Uint8Array object each once decoded) count too.
    const count = 4 * 1024 * 1024
    const bins = new Uint8Array(1 + 5 + 2 * count)
    bins.set(arrayOf(0, 0).subarray(0, 6))
    new DataView(bins.buffer).setUint32(2, count)
    for (let i = 0; i < count; i++) bins[6 + 2 * i] = 0xc4
    expect(() => new Codec().decode(bins)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_LARGE' }),
    )
    // The same count of small integers (8 bytes each in an array) is fine.
    expect((new Codec().decode(arrayOf(4 * 1024 * 1024, 0x01)) as number[]).length).toBe(
      4 * 1024 * 1024,
    )
  })

  it('is configurable, counts strings by their length, and checks its option', () => {
    const text = { text: 'x'.repeat(100_000) }
    const bytes = new Codec().encode(text)
    expect(new Codec({ maxDecodedBytes: 200_000 }).decode(bytes)).toEqual(text)
    expect(() => new Codec({ maxDecodedBytes: 50_000 }).decode(bytes)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_LARGE' }),
    )
    expect(() => new Codec({ maxDecodedBytes: 0 })).toThrow(RangeError)
  })
})
