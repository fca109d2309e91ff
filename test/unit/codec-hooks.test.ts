import { describe, expect, it } from 'vitest'
import {
  BY_REFERENCE,
  ClassRegistry,
  Codec,
  Inline,
  classify,
  crossing,
  isMarkedByReference,
  markByReference,
  type ExternalHooks,
  type ExternalKind,
} from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'

function thrown(run: () => unknown): PeerjectError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(PeerjectError)
    return error as PeerjectError
  }
  throw new Error('expected a throw')
}

/** Hooks that record exports and import a stub object per export. */
function recordingHooks(): ExternalHooks & {
  exports: Array<{ kind: ExternalKind; value: object; path: string }>
  imports: Array<{ kind: ExternalKind; data: unknown }>
} {
  const exports: Array<{ kind: ExternalKind; value: object; path: string }> = []
  const imports: Array<{ kind: ExternalKind; data: unknown }> = []
  return {
    exports,
    imports,
    export(kind, value, path) {
      exports.push({ kind, value, path })
      return { id: exports.length, kind, meta: [1n, new Date(0)] }
    },
    import(kind, data) {
      imports.push({ kind, data })
      return { stub: kind, data }
    },
  }
}

describe('classify', () => {
  class Registered {}
  const classes = new ClassRegistry()
  classes.register(Registered)

  it('decides for every kind of value', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'primitive'],
      [undefined, 'primitive'],
      [1n, 'primitive'],
      ['s', 'primitive'],
      [Symbol('s'), 'refused'],
      [{}, 'object'],
      [Object.create(null), 'object'],
      [[], 'array'],
      [new Map(), 'map'],
      [new Set(), 'set'],
      [new Date(), 'date'],
      [/x/, 'regexp'],
      [new RangeError(), 'error'],
      [new Uint16Array(), 'binary'],
      [new ArrayBuffer(1), 'binary'],
      [new DataView(new ArrayBuffer(1)), 'binary'],
      [new Registered(), 'instance'],
      [() => 1, 'function'],
      [markByReference({}), 'reference'],
      [new ReadableStream(), 'stream'],
      [new WeakMap(), 'refused'],
      [Promise.resolve(), 'refused'],
      [new (class Unknown {})(), 'refused'],
    ]
    for (const [value, expected] of cases)
      expect([value, classify(value, classes)]).toEqual([value, expected])
    expect(crossing(classify({}))).toBe('value')
    expect(crossing(classify(() => 1))).toBe('function')
  })

  it('classes opt in to by-reference through their prototype', () => {
    class Service {
      get [BY_REFERENCE](): boolean {
        return true
      }
    }
    expect(classify(new Service())).toBe('reference')
    expect(isMarkedByReference(new Service())).toBe(true)
    const marked = markByReference({ a: 1 })
    expect(Object.keys(marked)).toEqual(['a'])
    expect(isMarkedByReference(marked)).toBe(true)
    expect(isMarkedByReference({})).toBe(false)
    expect(isMarkedByReference(5)).toBe(false)
  })

  it('never triggers proxy traps of rpc stubs other than the BY_REFERENCE read', () => {
    const touched: string[] = []
    const stub = new Proxy(function remote() {}, {
      get(_target, key) {
        if (key === BY_REFERENCE) return true
        touched.push(`get ${String(key)}`)
        return undefined
      },
      apply() {
        touched.push('apply')
      },
      has() {
        touched.push('has')
        return false
      },
      getPrototypeOf() {
        touched.push('getPrototypeOf')
        return Function.prototype
      },
      ownKeys() {
        touched.push('ownKeys')
        return []
      },
    })
    // A callable stub crosses as a function, so the receiver's stub of it is callable too.
    expect(classify(stub)).toBe('function')
    const hooks = recordingHooks()
    new Codec().encode({ stub }, hooks)
    expect(hooks.exports.map((entry) => entry.kind)).toEqual(['function'])
    expect(touched).toEqual([])
  })
})

describe('external hooks', () => {
  it('an Inline from the export hook is encoded in place, and back-references stay in step', () => {
    const codec = new Codec()
    const shared = { a: 1 }
    const inlined = { x: 1 }
    const hooks: ExternalHooks = {
      export: (_kind, value) =>
        new Inline(value === fnToObject ? inlined : value === fnToNumber ? 5 : undefined),
      import: () => undefined,
    }
    const fnToObject = (): void => undefined
    const fnToNumber = (): void => undefined
    const value = [fnToNumber, shared, new Set([1]), shared, fnToObject, inlined, fnToObject]
    const decoded = codec.decode(codec.encode(value, hooks)) as unknown[]
    expect(decoded[0]).toBe(5)
    expect(decoded[3]).toBe(decoded[1])
    expect(decoded[2]).toEqual(new Set([1]))
    expect(decoded[4]).toEqual({ x: 1 })
    // The inlined object, met again directly or through the same function, is the same object.
    expect(decoded[5]).toBe(decoded[4])
    expect(decoded[6]).toBe(decoded[4])
  })

  it('exports functions, references and streams with kind and path; import gets the exported data', () => {
    const codec = new Codec()
    const fn = (): number => 1
    const service = markByReference({ name: 'svc' })
    const stream = new ReadableStream()
    const sender = recordingHooks()
    const bytes = codec.encode({ handlers: [fn], 'a b': { service }, stream }, sender)
    expect(sender.exports).toEqual([
      { kind: 'function', value: fn, path: 'value.handlers[0]' },
      { kind: 'reference', value: service, path: 'value["a b"].service' },
      { kind: 'stream', value: stream, path: 'value.stream' },
    ])
    const receiver = recordingHooks()
    const decoded = codec.decode(bytes, receiver) as Record<string, unknown>
    expect(receiver.imports).toEqual([
      { kind: 'function', data: { id: 1, kind: 'function', meta: [1n, new Date(0)] } },
      { kind: 'reference', data: { id: 2, kind: 'reference', meta: [1n, new Date(0)] } },
      { kind: 'stream', data: { id: 3, kind: 'stream', meta: [1n, new Date(0)] } },
    ])
    expect(decoded.handlers).toEqual([{ stub: 'function', data: receiver.imports[0]?.data }])
  })

  it('exports the same function once; both places receive the same stub', () => {
    const codec = new Codec()
    const fn = (): void => {}
    const sender = recordingHooks()
    const bytes = codec.encode([fn, { again: fn }], sender)
    expect(sender.exports).toHaveLength(1)
    const decoded = codec.decode(bytes, recordingHooks()) as [unknown, { again: unknown }]
    expect(decoded[0]).toBe(decoded[1].again)
  })

  it('refuses functions, references and streams without hooks', () => {
    const codec = new Codec()
    expect(thrown(() => codec.encode({ items: [0, 1, 2, { handle: () => 1 }] })).message).toBe(
      'value.items[3].handle is a function; functions cannot cross the wire by value (expose it as a reference or register its class)',
    )
    expect(thrown(() => codec.encode([markByReference({})])).message).toMatch(
      /^value\[0\] is marked by-reference/,
    )
    expect(thrown(() => codec.encode({ s: new ReadableStream() })).message).toMatch(
      /^value\.s is a ReadableStream/,
    )
  })

  it('refuses references inside exported data', () => {
    const hooks: ExternalHooks = {
      export: () => ({ callback: () => 1 }),
      import: (_kind, data) => data,
    }
    const error = thrown(() => new Codec().encode({ f: () => 1 }, hooks))
    expect(error.code).toBe('ERR_UNSERIALIZABLE')
    expect(error.message).toMatch(/^value\.f<exported data>\.callback is a function/)
  })

  it('rejects external values when decoding without hooks', () => {
    const codec = new Codec()
    const bytes = codec.encode({ f: () => 1 }, recordingHooks())
    const error = thrown(() => codec.decode(bytes))
    expect(error.code).toBe('ERR_BAD_MESSAGE')
    expect(error.message).toMatch(/function arrived/)
  })

  it('propagates PeerjectErrors from hooks; wraps other import failures as ERR_BAD_MESSAGE', () => {
    const codec = new Codec()
    const quota = new PeerjectError('ERR_QUOTA', 'too many exports')
    const failing: ExternalHooks = {
      export: () => {
        throw quota
      },
      import: () => {
        throw new Error('bad stub data')
      },
    }
    expect(thrown(() => codec.encode(() => 1, failing))).toBe(quota)
    const bytes = codec.encode(() => 1, recordingHooks())
    const error = thrown(() => codec.decode(bytes, failing))
    expect(error.code).toBe('ERR_BAD_MESSAGE')
    expect((error.cause as Error).message).toBe('bad stub data')
  })
})

describe('ERR_UNSERIALIZABLE paths', () => {
  const codec = new Codec()
  const cases: Array<[string, unknown, RegExp]> = [
    ['symbol in an object', { a: { b: Symbol('x') } }, /^value\.a\.b is a symbol/],
    ['odd key', { 'odd key': [Symbol('x')] }, /^value\["odd key"\]\[0\] is a symbol/],
    ['map key', { m: new Map([[Symbol('k'), 1]]) }, /^value\.m<map key #0> is a symbol/],
    [
      'map value',
      { m: new Map([['theme', { fn: () => 1 }]]) },
      /^value\.m<map value of "theme">\.fn is a function/,
    ],
    [
      'map value with object key',
      new Map([[{}, new WeakMap()]]),
      /^value<map value #0> is a WeakMap; weak collections/,
    ],
    [
      'set member',
      new Set([1, Promise.resolve()]),
      /^value<set member #1> is a Promise; await it first/,
    ],
    ['error cause', new Error('x', { cause: new WeakSet() }), /^value\.cause is a WeakSet/],
    [
      'error property',
      Object.assign(new Error('x'), { handler: () => 1 }),
      /^value\.handler is a function/,
    ],
    ['boxed primitive', [Object('s')], /^value\[0\] is a String; boxed primitives/],
    ['root function', () => 1, /^value is a function/],
    [
      'shared memory',
      { buffer: new SharedArrayBuffer(8) },
      /^value\.buffer is a SharedArrayBuffer/,
    ],
  ]
  for (const [name, value, message] of cases) {
    it(name, () => {
      const error = thrown(() => codec.encode(value))
      expect(error.code).toBe('ERR_UNSERIALIZABLE')
      expect(error.message).toMatch(message)
    })
  }

  it('names fields of registered class instances', () => {
    class Holder {
      inner = { cb: (): void => {} }
    }
    const classes = new ClassRegistry()
    classes.register(Holder)
    expect(thrown(() => new Codec({ classes }).encode([new Holder()])).message).toMatch(
      /^value\[0\]\.inner\.cb is a function/,
    )
  })
})
