/** Compile-only assertions for Remote<T> and Local<T> (run with `npx vitest run --typecheck.only`). */
import { describe, expectTypeOf, test } from 'vitest'
import { markByReference } from '../../src/codec/index.js'
import {
  RpcTarget,
  set,
  withOptions,
  type Local,
  type Received,
  type Remote,
  type RpcSession,
} from '../../src/rpc/index.js'

class Counter extends RpcTarget {
  value = 0
  add(n: number): number {
    return (this.value += n)
  }
  async later(): Promise<string> {
    return 'x'
  }
}

interface User {
  id: number
  name(): string
  tags: string[]
}

interface Api {
  version: string
  nested: { deep: { value: number } }
  items: User[]
  counter: Counter
  onChange?: (value: number) => void
  onError: ((error: Error) => void) | null
  user(id: number): User
  makeCounter(): Counter
  subscribe(listener: (value: number, label: string) => void): () => void
  Point: new (x: number, y: number) => { x: number; norm(): number }
  transform(fn: (x: number) => Promise<number>): Promise<number>
  each(fn: (done: () => void, user: { id: number; name(): string }) => void): void
  poll(callback: Remote<(tick: number) => number>): void
  marked(): { x: number }
  bytes(): ReadableStream<Uint8Array>
}

declare const session: RpcSession
const api = session.resolve<Api>('api')

describe('Remote<T>', () => {
  test('methods return pipelinable promises of received values', () => {
    expectTypeOf(api.user(1)).resolves.toEqualTypeOf<Received<User>>()
    expectTypeOf(api.user(1).name()).resolves.toEqualTypeOf<string>()
    expectTypeOf(api.user(1).id).resolves.toEqualTypeOf<number>()
    expectTypeOf(api.makeCounter().add(1)).resolves.toEqualTypeOf<number>()
    expectTypeOf(api.counter.later()).resolves.toEqualTypeOf<string>()
    expectTypeOf(api.user).parameter(0).toEqualTypeOf<number>()
    // @ts-expect-error wrong argument type
    void api.user('1')
  })

  test('properties are awaitable reads with deeper paths, indexing and length', () => {
    expectTypeOf(api.version).resolves.toEqualTypeOf<string>()
    expectTypeOf(api.nested.deep.value).resolves.toEqualTypeOf<number>()
    expectTypeOf(api.items[2]!.name()).resolves.toEqualTypeOf<string>()
    expectTypeOf(api.items.length).resolves.toEqualTypeOf<number>()
    expectTypeOf(api.nested).resolves.toEqualTypeOf<{ deep: { value: number } }>()
  })

  test('functions and by-reference objects arrive as stubs', () => {
    expectTypeOf(api.makeCounter()).resolves.toEqualTypeOf<Remote<Counter>>()
    expectTypeOf(api.subscribe(() => undefined)).resolves.toEqualTypeOf<Remote<() => void>>()
    expectTypeOf<Received<{ a: number; f: (x: number) => string }>>().toEqualTypeOf<{
      a: number
      f: Remote<(x: number) => string>
    }>()
    expectTypeOf<Awaited<ReturnType<Remote<() => void>>>>().toEqualTypeOf<void>()
  })

  test('callbacks: local functions are accepted as arguments', () => {
    void api.subscribe((value, label) => {
      expectTypeOf(value).toEqualTypeOf<number>()
      expectTypeOf(label).toEqualTypeOf<string>()
    })
    void api.transform(async (x) => x * 2)
    void api.transform((x) => x * 2) // a local callback may answer synchronously
    // @ts-expect-error the callback must take a number
    void api.subscribe((value: string) => value)
  })

  test('callbacks whose parameters are functions or hold functions are typed from context', () => {
    // Under strict, an untyped parameter here would be an implicit-any error.
    void api.each((done, user) => {
      expectTypeOf(done).toEqualTypeOf<Remote<() => void>>()
      expectTypeOf(user.name).toEqualTypeOf<Remote<() => string>>()
    })
  })

  test('a parameter the implementation types as Remote<F> takes local functions and stubs', () => {
    void api.poll((tick) => tick + 1)
    const stub = {} as Remote<(tick: number) => number>
    void api.poll(stub)
    // @ts-expect-error the callback must take a number
    void api.poll((tick: string) => tick)
  })

  test('callback slots accept assignment; other properties use set()', () => {
    // Reading a slot: the callback last assigned, or nothing yet.
    expectTypeOf(api.onChange).toEqualTypeOf<((value: number) => unknown) | undefined>()
    api.onChange = (value) => expectTypeOf(value).toEqualTypeOf<number>()
    api.onChange = undefined
    api.onError = null
    // @ts-expect-error plain properties are not assignable; use `await set(api.version, …)`
    api.version = 'x'
    void set(api.version, 'x')
    // @ts-expect-error set() checks the value against the property's type
    void set(api.version, 42)
    void set(api.nested.deep.value, 3)
    void set(api.counter, new Counter()) // a by-reference object, or a stub of one
    void set(api.onChange, (value: number) => value) // the awaitable form of the same assignment
  })

  test('new on a class gives a stub of the instance', () => {
    const point = new api.Point(1, 2)
    expectTypeOf(point).resolves.toEqualTypeOf<Remote<{ x: number; norm(): number }>>()
    expectTypeOf(point.norm()).resolves.toEqualTypeOf<number>()
  })

  test('stubs, results, paths and instances are disposable; withOptions keeps the type', () => {
    expectTypeOf(api[Symbol.dispose]).toEqualTypeOf<() => void>()
    expectTypeOf(api.makeCounter()[Symbol.dispose]).toEqualTypeOf<() => void>()
    expectTypeOf(new api.Point(1, 2)[Symbol.dispose]).toEqualTypeOf<() => void>()
    expectTypeOf(api.nested.deep[Symbol.dispose]).toEqualTypeOf<() => void>()
    expectTypeOf(withOptions(api, { timeoutMs: 10 })).toEqualTypeOf<Remote<Api>>()
  })
})

describe('Remote<T> in generic code and for what arrives as itself', () => {
  test('members stay reachable while T is generic', () => {
    function idOf<T extends { id: number }>(remote: Remote<T>) {
      return remote.id
    }
    expectTypeOf(idOf(session.resolve<User>('user'))).resolves.toEqualTypeOf<number>()
  })

  test('resolve<any> gives a stub whose members are any', () => {
    const loose = session.resolve<any>('anything') // eslint-disable-line @typescript-eslint/no-explicit-any
    void loose.whatever(1).deeper
  })

  test('a markByReference result arrives as a stub; a byte stream as a ReadableStream', () => {
    expectTypeOf(markByReference({ x: 1 }).x).toEqualTypeOf<number>()
    expectTypeOf(api.marked()).resolves.toEqualTypeOf<Received<{ x: number }>>()
    type Marked = ReturnType<typeof markByReference<{ x: number }>>
    expectTypeOf<Received<Marked>>().toEqualTypeOf<Remote<Marked>>()
    expectTypeOf<Received<ReadableStream<Uint8Array>>>().toEqualTypeOf<ReadableStream<Uint8Array>>()
    expectTypeOf<Received<AsyncIterable<Uint8Array>>>().toEqualTypeOf<ReadableStream<Uint8Array>>()
    expectTypeOf(api.bytes()).resolves.toEqualTypeOf<ReadableStream<Uint8Array>>()
  })
})

describe('Local<T>', () => {
  test('inverts Remote<T>', () => {
    expectTypeOf<Local<Remote<Api>>>().toEqualTypeOf<Api>()
    expectTypeOf<Local<Remote<Counter>>>().toEqualTypeOf<Counter>()
  })

  test('describes local implementations of callbacks', () => {
    type Listener = Local<(value: number, f: () => void) => Promise<string>>
    expectTypeOf<Listener>().parameter(0).toEqualTypeOf<number>()
    expectTypeOf<Listener>().parameter(1).toEqualTypeOf<Remote<() => void>>()
    expectTypeOf<ReturnType<Listener>>().toEqualTypeOf<string | Promise<string>>()
  })
})
