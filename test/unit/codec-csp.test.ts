/**
 * The codec never reaches `new Function` / `eval` (strict Content-Security-Policy), and never
 * changes msgpackr's global state (no `addExtension`): an application's own msgpackr use is
 * unaffected.
 *
 * Detection: `globalThis.Function` and `globalThis.eval` are replaced by counting wrappers that
 * still work (a throwing replacement would make msgpackr disable its optimisation globally and
 * hide later calls). msgpackr resolves `Function` from the global object at call time, and a
 * control run with a records-enabled msgpackr Unpackr proves the wrapper sees its calls.
 */
import { Packr, Unpackr, pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { ClassRegistry, Codec } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'
import { codecCaseClasses, codecCases } from './codec-cases.js'

class Probe {
  a = 1
}
/** Values whose default msgpackr encoding an extension registration would change. */
function probeValues(): unknown[] {
  return [
    new Map([[1, 2]]),
    new Set([1]),
    new Date(0),
    new Error('e'),
    new Uint8Array([1]),
    // (no other typed arrays: msgpackr's default pack writes them element-wise into a byte-sized
    // slot, leaving stale buffer bytes, so their output is not reproducible by itself)
    /x/g,
    new Probe(),
    undefined,
    -0,
    { nested: [1, 'two'] },
  ]
}
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
// Captured when this file loads, before any Codec exists.
const defaultPackedBefore = hex(pack(probeValues()))

interface Counts {
  functionCalls: number
  evalCalls: number
}

/** Runs `body` with counting Function/eval wrappers installed; returns the counts. */
function countingDynamicCode(body: () => void): Counts {
  const counts: Counts = { functionCalls: 0, evalCalls: 0 }
  const realFunction = globalThis.Function
  const realEval = globalThis.eval
  const countingFunction = new Proxy(realFunction, {
    construct(target, args: unknown[]) {
      counts.functionCalls++
      return Reflect.construct(target, args) as object
    },
    apply(target, self, args: unknown[]) {
      counts.functionCalls++
      return Reflect.apply(target, self, args) as unknown
    },
  })
  globalThis.Function = countingFunction
  globalThis.eval = (source: string): unknown => {
    counts.evalCalls++
    return realEval(source)
  }
  try {
    body()
  } finally {
    globalThis.Function = realFunction
    globalThis.eval = realEval
  }
  return counts
}

/** msgpack with record definitions, each record used often enough for msgpackr to compile it. */
function recordMessage(): Uint8Array {
  const records = new Packr({ useRecords: true })
  return records.pack(
    Array.from({ length: 8 }, (_, i) => ({ alpha: i, beta: `b${i}`, gamma: [i] })),
  )
}

describe('no dynamic code (CSP)', () => {
  it('the detector works: msgpackr with records calls new Function', () => {
    const counts = countingDynamicCode(() => {
      const decoded = new Unpackr({ useRecords: true }).unpack(recordMessage()) as unknown[]
      expect(decoded).toHaveLength(8)
    })
    expect(counts.functionCalls).toBeGreaterThan(0)
  })

  it('encode and decode of the whole table call neither Function nor eval', () => {
    const codec = new Codec({ classes: codecCaseClasses(), includeStacks: true })
    const counts = countingDynamicCode(() => {
      for (let round = 0; round < 5; round++) {
        for (const testCase of codecCases()) codec.decode(codec.encode(testCase.value()))
        const many = Array.from({ length: 50 }, (_, i) => ({ alpha: i, beta: `b${i}`, gamma: [i] }))
        codec.decode(codec.encode(many))
      }
    })
    expect(counts).toEqual({ functionCalls: 0, evalCalls: 0 })
  })

  it('hostile record definitions are refused before msgpackr could compile them', () => {
    const codec = new Codec()
    const body = recordMessage()
    const counts = countingDynamicCode(() => {
      for (const header of [0x10, 0x11]) {
        const bytes = new Uint8Array(body.length + 1)
        bytes[0] = header
        bytes.set(body, 1)
        let error: unknown
        try {
          codec.decode(bytes)
        } catch (caught) {
          error = caught
        }
        expect(error).toBeInstanceOf(PeerjectError)
        expect((error as PeerjectError).message).toMatch(/extension type 0x72/)
      }
    })
    expect(counts).toEqual({ functionCalls: 0, evalCalls: 0 })
  })
})

describe('no global msgpackr state', () => {
  it('default pack/unpack behave the same after codecs encoded and decoded everything', () => {
    const classes = new ClassRegistry()
    classes.register(Probe)
    const probeCodec = new Codec({ classes })
    probeCodec.decode(probeCodec.encode(probeValues()))
    const tableCodec = new Codec({ classes: codecCaseClasses() })
    for (const testCase of codecCases()) tableCodec.decode(tableCodec.encode(testCase.value()))
    expect(hex(pack(probeValues()))).toBe(defaultPackedBefore)
    const decoded = unpack(pack(probeValues())) as unknown[]
    expect(decoded[0]).toEqual({ 1: 2 }) // a Map unpacks as an object by default
    expect(decoded[6]).toEqual({ a: 1 }) // a class instance as a plain map
  })
})
