/** RpcSession over the memory pair: golden traces, proxies, callbacks, references, identity. */
import { describe, expect, test } from 'vitest'
import { markByReference } from '../../src/codec/index.js'
import {
  createMemoryPair,
  isStub,
  remove,
  RpcTarget,
  set,
  type MemoryPair,
  type Remote,
} from '../../src/rpc/index.js'

/** Messages of the log, without timestamps. */
function trace(pair: MemoryPair): Array<[string, unknown]> {
  return pair.log.map((entry) => [entry.from, entry.message])
}

class Counter extends RpcTarget {
  value = 0
  add(n: number): number {
    this.value += n
    return this.value
  }
}

describe('golden traces', () => {
  test('a call: resolve, call, pull, return, release — exactly', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('counter', new Counter())
    const counter = pair.a.resolve<Counter>('counter')
    expect(await counter.add(2)).toBe(2)
    await pair.settle()
    expect(trace(pair)).toEqual([
      ['a', ['resolve', 1, 'counter']],
      ['a', ['call', 2, 1, ['add'], [2]]],
      ['a', ['pull', 2]],
      ['b', ['return', 2, 2]],
      ['a', ['release', 2, 1]],
    ])
    expect(pair.b.stats()).toMatchObject({ exports: 1, inFlight: 0 })
    expect(pair.a.stats()).toMatchObject({ imports: 1, pendingCalls: 0 })
  })

  test('messages of primitives issued together share one send: [release, call, pull] per call', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('counter', new Counter())
    const counter = pair.a.resolve<Counter>('counter')
    expect(await counter.add(2)).toBe(2)
    expect(await counter.add(3)).toBe(5)
    await pair.settle()
    expect(pair.log.map((entry) => [entry.from, entry.message, entry.batch])).toEqual([
      ['a', ['resolve', 1, 'counter'], 3],
      ['a', ['call', 2, 1, ['add'], [2]], 3],
      ['a', ['pull', 2], 3],
      ['b', ['return', 2, 2], undefined],
      // The first answer's release waited for the next call and left with it.
      ['a', ['release', 2, 1], 3],
      ['a', ['call', 3, 1, ['add'], [3]], 3],
      ['a', ['pull', 3], 3],
      ['b', ['return', 3, 5], undefined],
      ['a', ['release', 3, 1], undefined],
    ])
  })

  test('an argument holding objects is encoded at the call: later changes do not cross', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { read: (value: { n: number }) => value.n })
    const api = pair.a.resolve<{ read(value: { n: number }): number }>('api')
    const value = { n: 1 }
    const result = api.read(value)
    value.n = 2
    expect(await result).toBe(1)
    await pair.settle()
    // Its call went on its own; the messages of primitives around it were batched.
    expect(pair.log.map((entry) => [entry.message, entry.batch])).toEqual([
      [['resolve', 1, 'api'], undefined],
      [['call', 2, 1, ['read'], [{ n: 1 }]], undefined],
      [['pull', 2], undefined],
      [['return', 2, 1], undefined],
      [['release', 2, 1], undefined],
    ])
  })

  test('special primitives cross through the batch path intact; -0 is not deferred (the codec tags it)', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { echo: (...values: unknown[]) => values })
    const api = pair.a.resolve<{ echo(...values: unknown[]): unknown[] }>('api')
    const special = [NaN, Infinity, -Infinity, undefined, null, '', 'é', 2 ** 53, -1.5]
    expect(await api.echo(...special)).toEqual(special)
    const negativeZero = await api.echo(-0)
    expect(Object.is(negativeZero[0], -0)).toBe(true)
    await pair.settle()
    const calls = pair.log.filter((entry) => (entry.message as unknown[])[0] === 'call')
    expect(calls.map((entry) => entry.batch)).toEqual([3, undefined])
  })

  test('a read, an assignment and a delete are one request and one reply each', async () => {
    const pair = createMemoryPair()
    const state: { x: number; y?: number } = { x: 1, y: 2 }
    pair.exportsB.expose('state', state)
    const remote = pair.a.resolve<{ x: number; y: number }>('state')
    expect(await remote.x).toBe(1)
    await set(remote.x, 5)
    expect(await remove(remote.y)).toBe(true)
    await pair.settle()
    expect(trace(pair)).toEqual([
      ['a', ['resolve', 1, 'state']],
      ['a', ['get', 2, 1, ['x']]],
      ['b', ['return', 2, 1]],
      ['a', ['set', 3, 1, ['x'], 5]],
      ['b', ['return', 3, true]],
      ['a', ['delete', 4, 1, ['y']]],
      ['b', ['return', 4, true]],
    ])
    expect(state).toEqual({ x: 5 })
  })

  test('a function argument travels as a negative export id and is released after use', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { run: (fn: (n: number) => number) => fn(20) })
    const api = pair.a.resolve<{ run(fn: (n: number) => number): number }>('api')
    expect(await api.run((n) => n + 1)).toBe(21)
    await pair.settle()
    expect(trace(pair).slice(0, 6)).toEqual([
      ['a', ['resolve', 1, 'api']],
      ['a', ['call', 2, 1, ['run'], [{ ref: 'function', data: ['e', -1] }]]],
      ['a', ['pull', 2]],
      ['b', ['call', 1, -1, [], [20]]],
      ['b', ['pull', 1]],
      ['a', ['return', 1, 21]],
    ])
  })
})

describe('proxies', () => {
  interface Shop {
    name: string
    items: string[]
    nested: { deep: { value: number } }
    label(): string
    Item: new (name: string) => { name: string; rename(to: string): string }
  }
  function shop(pair: MemoryPair): Remote<Shop> {
    class Item {
      constructor(public name: string) {}
      rename(to: string): string {
        this.name = to
        return this.name
      }
    }
    const local = {
      name: 'corner',
      items: ['a', 'b', 'c'],
      nested: { deep: { value: 7 } },
      label(): string {
        return `${local.name}!`
      },
      Item,
    }
    pair.exportsB.expose('shop', local)
    return pair.a.resolve<Shop>('shop')
  }

  test('reads, indexing, length, nested paths and method this-binding', async () => {
    const pair = createMemoryPair()
    const remote = shop(pair)
    expect(await remote.name).toBe('corner')
    expect(await remote.items[2]).toBe('c')
    expect(await remote.items.length).toBe(3)
    expect(await remote.nested.deep.value).toBe(7)
    expect(await remote.nested).toEqual({ deep: { value: 7 } })
    expect(await remote.label()).toBe('corner!')
  })

  test('assignment without await, then awaited set and delete, apply in order', async () => {
    const pair = createMemoryPair()
    const remote = shop(pair)
    remote.name = 'x' as never
    ;(remote as unknown as Record<string, unknown>).extra = 1
    delete (remote as unknown as Record<string, unknown>).extra
    expect(await remote.name).toBe('x')
    expect(await (remote as unknown as Record<string, Promise<unknown>>).extra).toBeUndefined()
    await set(remote.items[0] as PromiseLike<string>, 'z')
    expect(await remote.items).toEqual(['z', 'b', 'c'])
  })

  test('new remote.Klass(…) gives a stub of the remote instance', async () => {
    const pair = createMemoryPair()
    const remote = shop(pair)
    const item = new remote.Item('pen')
    expect(await item.rename('pencil')).toBe('pencil') // pipelined on the pending instance
    const stub = await item
    expect(isStub(stub)).toBe(true)
    expect(await stub.name).toBe('pencil')
    expect(await new remote.Item('cup').name).toBe('cup')
  })

  test('a property proxy is reused for calls, but every read reads anew', async () => {
    const pair = createMemoryPair()
    const remote = shop(pair)
    // `remote.label(…)` in a loop makes one proxy of `remote.label`, not one per call.
    expect(remote.label).toBe(remote.label)
    expect(await remote.label()).toBe('corner!')
    const name = remote.name
    expect(await name).toBe('corner')
    await set(remote.name, 'renamed')
    // A proxy that was read is not handed out again: this read is a new one.
    expect(remote.name).not.toBe(name)
    expect(await remote.name).toBe('renamed')
    expect(await name).toBe('corner') // the earlier read keeps its value, as a promise does
    expect(await remote.label()).toBe('renamed!')
  })

  test('awaiting a stub root does not read it; thenable only below the root', async () => {
    const pair = createMemoryPair()
    const remote = shop(pair)
    expect(await remote).toBe(remote)
    expect(typeof (remote as unknown as { then?: unknown }).then).toBe('undefined')
    expect(typeof (remote.name as unknown as { then?: unknown }).then).toBe('function')
  })

  test('results turn local once read: later operations apply to the received value', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', {
      user: (id: number) => ({ id, greet: (who: string) => `hi ${who} from ${id}` }),
    })
    const api = pair.a.resolve<{ user(id: number): { id: number; greet(w: string): string } }>(
      'api',
    )
    const user = api.user(3)
    expect((await user).id).toBe(3)
    const before = pair.log.length
    expect(await user.id).toBe(3) // local: nothing sent
    expect(pair.log.length).toBe(before)
    expect(await user.greet('bo')).toBe('hi bo from 3') // the function inside is a stub
  })
})

describe('callbacks and references', () => {
  test('callbacks both ways: argument, returned, assigned', async () => {
    const pair = createMemoryPair()
    let listener: ((v: number) => unknown) | undefined
    const events: number[] = []
    const model = {
      onChange: undefined as ((v: number) => void) | undefined,
      subscribe(fn: (v: number) => unknown) {
        listener = fn
      },
      makeAdder: (n: number) => (x: number) => x + n,
      async fire(v: number) {
        await listener?.(v)
        await this.onChange?.(v * 10)
      },
    }
    pair.exportsB.expose('model', model)
    const remote = pair.a.resolve<typeof model>('model')
    await remote.subscribe((v) => events.push(v))
    remote.onChange = (v) => void events.push(v)
    const adder = await remote.makeAdder(5)
    expect(await adder(1)).toBe(6)
    await remote.fire(2)
    expect(events).toEqual([2, 20])
  })

  test('marked objects and RpcTarget instances cross by reference', async () => {
    const pair = createMemoryPair()
    const settings = markByReference({ theme: 'dark' })
    const counter = new Counter()
    pair.exportsB.expose('api', { settings: () => settings, counter: () => counter })
    const api = pair.a.resolve<{ settings(): { theme: string }; counter(): Counter }>('api')
    const remoteSettings = await api.settings()
    expect(isStub(remoteSettings)).toBe(true)
    expect(await remoteSettings.theme).toBe('dark')
    const remoteCounter = await api.counter()
    await remoteCounter.add(4)
    expect(counter.value).toBe(4)
  })

  test('a stub passed back to its owner arrives as the original object', async () => {
    const pair = createMemoryPair()
    const original = new Counter()
    const fn = (): number => 1
    pair.exportsB.expose('api', {
      get: () => original,
      fn: () => fn,
      same: (x: unknown) => x === original,
      sameFn: (x: unknown) => x === fn,
    })
    pair.exportsB.expose('counter', original)
    const api = pair.a.resolve<{
      get(): Counter
      fn(): () => number
      same(x: unknown): boolean
      sameFn(x: unknown): boolean
    }>('api')
    const stub = await api.get()
    expect(await api.same(stub)).toBe(true)
    expect(await api.sameFn(await api.fn())).toBe(true)
    expect(await api.same(pair.a.resolve('counter'))).toBe(true)
    // The same export arriving twice is the same stub here.
    expect(await api.get()).toBe(stub)
  })

  test('a local function passed twice reuses one export id', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { keep: (f: unknown) => typeof f })
    const api = pair.a.resolve<{ keep(f: unknown): string }>('api')
    const fn = (): void => undefined
    await api.keep(fn)
    await api.keep(fn)
    const refs = pair.log
      .filter((e) => e.from === 'a' && (e.message as unknown[])[0] === 'call')
      .map((e) => JSON.stringify((e.message as unknown[])[4]))
    expect(refs).toEqual([
      '[{"ref":"function","data":["e",-1]}]',
      '[{"ref":"function","data":["e",-1]}]',
    ])
  })
})

describe('results passed back as arguments', () => {
  test('a pending result arrives as the original; a settled one as what it resolved to', async () => {
    const pair = createMemoryPair()
    const original = { a: 1 }
    const got: unknown[] = []
    pair.exportsB.expose('api', {
      conf: () => original,
      num: () => 5,
      take: (value: unknown) => {
        got.push(value)
        return typeof value
      },
    })
    const api = pair.a.resolve<{
      conf(): { a: number }
      num(): number
      take(value: unknown): string
    }>('api')
    expect(await api.take(api.conf())).toBe('object') // pending: B's own result, by identity
    expect(got[0]).toBe(original)
    const settled = api.conf()
    await settled
    expect(await api.take(settled)).toBe('object') // settled: the value A received, a copy
    expect(got[1]).toEqual({ a: 1 })
    expect(isStub(got[1])).toBe(false)
    const number = api.num()
    await number
    expect(await api.take(number)).toBe('number')
    expect(got[2]).toBe(5)
    // Shared objects after an inlined result keep their identity.
    const shared = { s: 1 }
    expect(await api.take([settled, shared, new Set([1]), shared])).toBe('object')
    const list = got[3] as unknown[]
    expect(list[3]).toBe(list[1])
    pair.close()
  })
})

describe('errors name what the user sent, not the message layout', () => {
  test('arguments, assigned values, results and thrown errors that cannot cross', async () => {
    const pair = createMemoryPair()
    const failures: unknown[] = []
    pair.exportsB.expose('api', {
      add: (_a: unknown, _b: unknown) => 1,
      make: class {
        constructor(_options: unknown) {}
      },
      odd: () => ({ items: [Symbol('s')] }),
      fn: () => (_x: unknown) => 1,
      fail: () => {
        throw Object.assign(new Error('no'), { detail: Symbol('d') })
      },
      onChange: undefined as unknown,
    })
    const api = pair.a.resolve<{
      add(a: unknown, b: unknown): number
      make: new (options: unknown) => object
      odd(): unknown
      fn(): (x: unknown) => number
      fail(): unknown
      onChange: unknown
    }>('api')
    const message = async (promise: PromiseLike<unknown>): Promise<string> => {
      const error = await Promise.resolve(promise).then(
        () => undefined,
        (e: unknown) => e,
      )
      failures.push(error)
      return (error as Error).message
    }
    expect(await message(api.add(1, { handle: Symbol('h') }))).toMatch(
      /^arguments\[1\]\.handle of add\(\) is a symbol/,
    )
    expect(await message(new api.make(Symbol('x')))).toMatch(/^arguments\[0\] of new make\(\)/)
    expect(await message(set(api.onChange, [Symbol('v')]))).toMatch(
      /^value\[0\] assigned to onChange is a symbol/,
    )
    const fn = await api.fn()
    expect(await message(fn(Symbol('f')))).toMatch(
      /^arguments\[0\] of the remote function is a symbol/,
    )
    expect(await message(api.odd())).toMatch(/^result\.items\[0\] of the remote call is a symbol/)
    expect(await message(api.fail())).toMatch(/error\.detail thrown by the remote call/)
    for (const error of failures) expect(error).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    pair.close()
  })
})
