/**
 * The codec round-trip table, shared by the Node unit tests (codec.test.ts) and the Chromium test.
 * Browser-safe: no Node APIs, no test-runner imports — checks throw plain Errors. (Over 400 lines
 * because it is one table: one row per kind of value that crosses.)
 *
 * A case's `check`, when present, replaces the default check (`assertSameValue`, a structural
 * comparison that also compares prototypes, -0, exact typed-array classes and object identity:
 * an object seen twice in the original must be one object seen twice in the decoded value).
 * Encode/decode the cases with a Codec built with `codecCaseClasses()`.
 */
import { ClassRegistry } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'
import { assertSameValue } from './codec-compare.js'

export { assertSameValue }

/** One row of the table. */
export interface CodecCase {
  readonly name: string
  readonly value: () => unknown
  readonly check?: (decoded: unknown, original: unknown) => void
}

/** A registered class with a method (methods come from the prototype on arrival). */
export class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}
/** A registered class holding other instances. */
export class Line {
  constructor(
    public from: Point,
    public to: Point,
  ) {}
}
/** A registered class with an omitted field. */
export class Account {
  constructor(
    public user: string,
    public password: string,
    public balance: bigint,
  ) {}
}
/** A registered class that forms cycles. */
export class TreeNode {
  children: TreeNode[] = []
  parent: TreeNode | null = null
  constructor(public label: string) {}
  add(child: TreeNode): this {
    child.parent = this
    this.children.push(child)
    return this
  }
}
/** A registered Error subclass. */
export class ValidationError extends Error {
  field: string
  constructor(message: string, field: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ValidationError'
    this.field = field
  }
}
/** An Error subclass that is NOT registered: arrives as its nearest known ancestor. */
export class UnregisteredError extends RangeError {
  constructor(message: string) {
    super(message)
    this.name = 'UnregisteredError'
  }
}

/** The registry the table's codec must use (the same on both sides). */
export function codecCaseClasses(): ClassRegistry {
  const classes = new ClassRegistry()
  classes.register(Point)
  classes.register(Line)
  classes.register(Account, { omit: ['password'] })
  classes.register(TreeNode, { name: 'test.TreeNode' })
  classes.register(ValidationError)
  return classes
}

/** Cases for every kind of value that crosses by value. */
export function codecCases(): CodecCase[] {
  return [
    ...primitiveCases(),
    ...containerCases(),
    ...binaryCases(),
    ...errorCases(),
    ...graphCases(),
  ]
}

function primitiveCases(): CodecCase[] {
  const numbers: Array<[string, number]> = [
    ['0', 0],
    ['-0', -0],
    ['42', 42],
    ['-7', -7],
    ['3.14', 3.14],
    ['2^53', 2 ** 53],
    ['-2^31', -(2 ** 31)],
    ['2^32', 2 ** 32],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['MAX_VALUE', Number.MAX_VALUE],
    ['MIN_VALUE', Number.MIN_VALUE],
  ]
  const bigints: Array<[string, bigint]> = [
    ['0n', 0n],
    ['1n', 1n],
    ['-1n', -1n],
    ['2^63-1', 2n ** 63n - 1n],
    ['-2^63', -(2n ** 63n)],
    ['2^64-1', 2n ** 64n - 1n],
    ['2^64', 2n ** 64n],
    ['-2^64-1', -(2n ** 64n) - 1n],
    ['2^200+12345', 2n ** 200n + 12345n],
    ['-(2^1000)-7', -(2n ** 1000n) - 7n],
  ]
  return [
    { name: 'null', value: () => null },
    { name: 'undefined', value: () => undefined },
    { name: 'true', value: () => true },
    { name: 'false', value: () => false },
    ...numbers.map(([name, n]) => ({ name: `number ${name}`, value: () => n })),
    { name: 'numbers inside an array (incl. -0)', value: () => [0, -0, NaN, -Infinity, 1.5, -0] },
    ...bigints.map(([name, n]) => ({ name: `bigint ${name}`, value: () => n })),
    { name: 'empty string', value: () => '' },
    { name: 'unicode string', value: () => 'héllo wörld 🎉 日本語 \u0000 end' },
    { name: 'long string', value: () => 'abcdefghij'.repeat(20_000) },
  ]
}

function containerCases(): CodecCase[] {
  return [
    { name: 'empty array', value: () => [] },
    { name: 'mixed array', value: () => [1, 'a', null, undefined, true, 2n, [3, [4]]] },
    {
      name: 'sparse array arrives dense with undefined',
      // eslint-disable-next-line no-sparse-arrays
      value: () => [1, , 3],
      check: (decoded) => {
        const list = decoded as unknown[]
        if (!Array.isArray(list) || list.length !== 3 || list[1] !== undefined || !(1 in list)) {
          throw new Error('sparse array should arrive as [1, undefined, 3]')
        }
      },
    },
    {
      name: 'array of 10000 numbers',
      value: () => Array.from({ length: 10_000 }, (_, i) => i * 0.5),
    },
    { name: 'empty object', value: () => ({}) },
    {
      name: 'nested object, key order kept',
      value: () => ({
        b: 1,
        a: { z: [1, { y: 'deep' }], x: null },
        2: 'two',
        1: 'one',
        '': 'empty key',
      }),
    },
    {
      name: 'awkward keys',
      value: () => ({
        'weird key': 1,
        constructor: 'c',
        hasOwnProperty: 5,
        toJSON: 'no',
        __proto_: 'x',
      }),
    },
    {
      name: 'null-prototype object',
      value: () => Object.assign(Object.create(null) as object, { a: 1, b: { c: 2 } }),
    },
    {
      name: 'own __proto__ key',
      value: () => JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as unknown,
    },
    { name: 'object with undefined values', value: () => ({ a: undefined, b: [undefined] }) },
    { name: 'empty Map', value: () => new Map() },
    {
      name: 'Map with mixed keys',
      value: () =>
        new Map<unknown, unknown>([
          ['s', 1],
          [2, 'two'],
          [{ k: 1 }, [1, 2]],
          [null, undefined],
          [NaN, -0],
          [3n, new Map([[1, 1]])],
        ]),
    },
    { name: 'empty Set', value: () => new Set() },
    {
      name: 'Set of mixed members',
      value: () => new Set<unknown>([1, 'a', { o: 1 }, [2], new Set([3]), -0]),
    },
    { name: 'Date', value: () => new Date(1_700_000_000_123) },
    { name: 'Date epoch', value: () => new Date(0) },
    { name: 'Date before 1970 with ms', value: () => new Date(-123_456_789) },
    { name: 'Date after 2106', value: () => new Date(2 ** 32 * 1000 + 5) },
    { name: 'Date max', value: () => new Date(8.64e15) },
    { name: 'Date min', value: () => new Date(-8.64e15) },
    { name: 'invalid Date', value: () => new Date(Number.NaN) },
    { name: 'RegExp', value: () => /a+b\/c/gi },
    { name: 'RegExp with all flags', value: () => new RegExp('^\\p{L}+$', 'dgimsuy') },
    { name: 'Point (registered class)', value: () => new Point(3, 4) },
    {
      name: 'registered classes at depth (arrays, maps, sets, instances)',
      value: () => {
        const p = new Point(1, 2)
        return {
          list: [new Point(0, 0), [new Line(new Point(1, 1), new Point(2, 2))]],
          map: new Map<unknown, unknown>([[new Point(5, 5), new Line(p, new Point(6, 6))]]),
          set: new Set([new Point(7, 7)]),
        }
      },
      check: (decoded, original) => {
        assertSameValue(decoded, original)
        const line = [...(decoded as { map: Map<Point, Line> }).map.values()][0]
        if (
          !(line instanceof Line) ||
          !(line.from instanceof Point) ||
          line.from.norm() !== Math.hypot(1, 2)
        ) {
          throw new Error('nested instances should be revived with their prototypes')
        }
      },
    },
    {
      name: 'omitted fields arrive absent',
      value: () => new Account('ada', 'hunter2', 10n ** 30n),
      check: (decoded) => {
        if (!(decoded instanceof Account)) throw new Error('expected an Account')
        if (Object.hasOwn(decoded, 'password')) throw new Error('password must not cross')
        assertSameValue(
          { user: decoded.user, balance: decoded.balance },
          { user: 'ada', balance: 10n ** 30n },
        )
      },
    },
  ]
}

function binaryCases(): CodecCase[] {
  const typed: Array<[string, () => ArrayBufferView]> = [
    ['Int8Array', () => new Int8Array([-128, 0, 127])],
    ['Uint8Array', () => new Uint8Array([0, 1, 255])],
    ['Uint8ClampedArray', () => new Uint8ClampedArray([0, 128, 255])],
    ['Int16Array', () => new Int16Array([-32768, 0, 32767])],
    ['Uint16Array', () => new Uint16Array([0, 65535])],
    ['Int32Array', () => new Int32Array([-(2 ** 31), 2 ** 31 - 1])],
    ['Uint32Array', () => new Uint32Array([0, 2 ** 32 - 1])],
    ['Float32Array', () => new Float32Array([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY])],
    ['Float64Array', () => new Float64Array([Math.PI, -0, Number.NaN, Number.MIN_VALUE])],
    ['BigInt64Array', () => new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
    ['BigUint64Array', () => new BigUint64Array([0n, 2n ** 64n - 1n])],
  ]
  return [
    ...typed.map(([name, make]) => ({ name, value: make })),
    { name: 'empty Float64Array', value: () => new Float64Array(0) },
    {
      name: 'typed array view at an offset',
      value: () => new Int32Array(new ArrayBuffer(64), 12, 5).fill(-9),
    },
    { name: 'ArrayBuffer', value: () => new Uint8Array([9, 8, 7, 6, 5]).buffer },
    { name: 'empty ArrayBuffer', value: () => new ArrayBuffer(0) },
    {
      name: 'DataView',
      value: () => new DataView(new Uint8Array([1, 2, 3, 4, 5, 6]).buffer, 1, 4),
    },
    {
      name: 'several binaries of odd sizes in one object',
      value: () => ({
        a: new Uint8Array([1, 2, 3]),
        b: new Float64Array([1, 2]),
        c: new Uint16Array([7]),
        d: [new BigInt64Array([5n]), new DataView(new ArrayBuffer(3))],
      }),
    },
    {
      name: 'large binaries (binary section) mixed with small ones',
      value: () => {
        const pattern = (length: number): Uint8Array =>
          Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff)
        return {
          small: new Uint8Array([1]),
          bytes: pattern(20_001),
          floats: new Float32Array(pattern(40_000).buffer),
          buffer: pattern(17_000).buffer,
          view: new DataView(pattern(16_384).buffer, 3, 16_380),
          words: new BigUint64Array(pattern(16_384 * 2).buffer),
          after: 'tail',
        }
      },
    },
  ]
}

function errorCases(): CodecCase[] {
  const builtIns: Array<[string, () => Error]> = [
    ['Error', () => new Error('plain')],
    ['TypeError', () => new TypeError('type')],
    ['RangeError', () => new RangeError('range')],
    ['SyntaxError', () => new SyntaxError('syntax')],
    ['ReferenceError', () => new ReferenceError('reference')],
    ['EvalError', () => new EvalError('eval')],
    ['URIError', () => new URIError('uri')],
  ]
  return [
    ...builtIns.map(([name, make]) => ({ name, value: make })),
    { name: 'Error with empty message', value: () => new Error() },
    {
      name: 'AggregateError with errors',
      value: () => new AggregateError([new Error('one'), new TypeError('two'), 'three'], 'many'),
    },
    {
      name: 'cause chain with own properties',
      value: () =>
        Object.assign(
          new Error('top', {
            cause: Object.assign(new TypeError('middle', { cause: new RangeError('root') }), {
              status: 500,
            }),
          }),
          { code: 'E_TOP', details: { retry: true } },
        ),
    },
    {
      name: 'non-error cause',
      value: () => new Error('with string cause', { cause: 'just text' }),
    },
    {
      name: 'explicit undefined cause',
      value: () => new Error('undefined cause', { cause: undefined }),
    },
    {
      name: 'PeerjectError with code',
      value: () => new PeerjectError('ERR_TIMEOUT', 'took too long'),
    },
    {
      name: 'registered Error subclass',
      value: () => new ValidationError('bad email', 'email', { cause: new Error('regex failed') }),
      check: (decoded, original) => {
        assertSameValue(decoded, original)
        if (!(decoded instanceof ValidationError) || !(decoded instanceof Error)) {
          throw new Error('expected a ValidationError')
        }
      },
    },
    {
      name: 'unregistered Error subclass arrives as its nearest built-in, name kept',
      value: () => new UnregisteredError('out of range'),
      check: (decoded) => {
        const error = decoded as RangeError
        if (Object.getPrototypeOf(error) !== RangeError.prototype)
          throw new Error('expected a RangeError')
        assertSameValue([error.name, error.message], ['UnregisteredError', 'out of range'])
      },
    },
  ]
}

function graphCases(): CodecCase[] {
  return [
    {
      name: 'object cycle',
      value: () => {
        const a: Record<string, unknown> = { name: 'a' }
        a.self = a
        return a
      },
    },
    {
      name: 'array containing itself',
      value: () => {
        const list: unknown[] = [1]
        list.push(list)
        return list
      },
    },
    {
      name: 'mutual cycle',
      value: () => {
        const a: Record<string, unknown> = {}
        const b: Record<string, unknown> = { a }
        a.b = b
        return [a, b]
      },
    },
    {
      name: 'shared references (object, Date, typed array, instance)',
      value: () => {
        const shared = { s: 1 }
        const date = new Date(5)
        const bytes = new Uint8Array([1, 2])
        const point = new Point(1, 1)
        return {
          x: [shared, shared],
          y: shared,
          date,
          dates: [date],
          bytes,
          again: bytes,
          point,
          points: [point],
        }
      },
    },
    {
      name: 'Map containing itself as key and value',
      value: () => {
        const map = new Map<unknown, unknown>()
        map.set(map, map)
        map.set('k', { map })
        return map
      },
    },
    {
      name: 'Set containing itself',
      value: () => {
        const set = new Set<unknown>()
        set.add(set)
        set.add({ set })
        return set
      },
    },
    {
      name: 'class instances in a cycle',
      value: () => new TreeNode('root').add(new TreeNode('left')).add(new TreeNode('right')),
    },
    {
      name: 'error whose cause is itself',
      value: () => {
        const error = new Error('loop')
        error.cause = error
        return error
      },
    },
    {
      name: 'null-prototype object in a cycle',
      value: () => {
        const object = Object.create(null) as Record<string, unknown>
        object.me = object
        return object
      },
    },
  ]
}
