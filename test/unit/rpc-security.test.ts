/** The authorizer, never-reachable names, and remote errors as the caller sees them. */
import { describe, expect, test } from 'vitest'
import { ClassRegistry } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'
import { createMemoryPair, RpcTarget, set, type Authorizer } from '../../src/rpc/index.js'
import { rejection as failure } from '../helpers/rejection.js'

const denied = { code: 'ERR_DENIED' }

function fixture() {
  return {
    visible: 1,
    _secret: 's3cret',
    nested: { _inner: 1, ok: 2 },
    fn: (x: number) => x,
    _hidden: () => 'no',
    list: [1, 2, 3],
  }
}
type Fixture = ReturnType<typeof fixture>

describe('default authorizer', () => {
  test('names starting with _ are denied for every operation; others still work', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('obj', fixture())
    pair.exportsB.expose('_private', fixture())
    const remote = pair.a.resolve<Fixture>('obj')
    expect(await failure(remote._secret)).toMatchObject(denied)
    expect(await failure(remote.nested._inner)).toMatchObject(denied)
    expect(await failure(remote._hidden())).toMatchObject(denied)
    expect(await failure(set(remote._secret, 'x'))).toMatchObject(denied)
    expect(await failure(pair.a.resolve<Fixture>('_private').visible)).toMatchObject(denied)
    expect(await pair.a.list()).toEqual(['obj'])
    expect(await remote.nested.ok).toBe(2)
    expect(pair.b.stats().closed).toBe(false)
  })
})

describe('never reachable, whatever the authorizer says', () => {
  const allowAll: Authorizer = () => true

  test('__proto__, constructor and prototype are refused before the authorizer', async () => {
    const asked: unknown[] = []
    const pair = createMemoryPair({ b: { authorize: (...args) => (asked.push(args), true) } })
    class Thing {
      value = 1
    }
    pair.exportsB.expose('obj', { thing: new Thing(), Thing })
    type Loose = Record<'constructor' | '__proto__' | 'prototype', PromiseLike<unknown>>
    const remote = pair.a.resolve<{ thing: { value: number }; Thing: object }>('obj')
    for (const read of [
      (remote.thing as unknown as Loose).constructor,
      (remote.thing as unknown as Loose).__proto__,
      (remote.Thing as unknown as Loose).prototype,
      (remote as unknown as Loose).constructor,
    ]) {
      expect(await failure(read as PromiseLike<unknown>)).toMatchObject(denied)
    }
    expect(asked.every((args) => !(args as unknown[][])[2]?.includes('constructor'))).toBe(true)
    expect(await remote.thing.value).toBe(1)
  })

  test('Object.prototype and Function.prototype members are not reachable', async () => {
    const pair = createMemoryPair({ b: { authorize: allowAll } })
    pair.exportsB.expose('obj', fixture())
    const remote = pair.a.resolve<Record<string, (...args: unknown[]) => unknown>>('obj')
    const hasOwn = 'hasOwnProperty'
    for (const call of [
      remote.toString(),
      remote[hasOwn]('visible'),
      remote.valueOf(),
      (remote.fn as unknown as { call(...a: unknown[]): unknown }).call(null, 1),
      (remote.fn as unknown as { bind(...a: unknown[]): unknown }).bind(null),
    ]) {
      expect(await failure(call as PromiseLike<unknown>)).toMatchObject(denied)
    }
    expect(await (remote.list as unknown as { length: number }).length).toBe(3)
  })

  test('built-in methods are readable but not callable; own and class methods are', async () => {
    class Board {
      notes = ['a']
      add(note: string): number {
        return this.notes.push(note)
      }
    }
    class Tally extends Map<string, number> {
      bump(key: string): number {
        const next = (this.get(key) ?? 0) + 1
        this.set(key, next)
        return next
      }
    }
    const tally = new Tally()
    const shared = {
      title: 'board',
      list: [1, 2, 3],
      users: new Map([['ann', 1]]),
      board: new Board(),
      tally,
      now: () => 7,
    }
    const pair = createMemoryPair({ b: { authorize: allowAll } })
    pair.exportsB.expose('shared', shared)
    const remote = pair.a.resolve<typeof shared>('shared')
    // A string's members are not typed on a stub (a primitive's value is all there is).
    const title = remote.title as unknown as {
      repeat(count: number): PromiseLike<string>
      length: PromiseLike<number>
    }
    // `'x'.repeat(n)` would let a tiny request allocate without bound; `push`, `clear` and `set`
    // would change exposed arrays and maps behind their owner's methods.
    const refusals: Array<[PromiseLike<unknown>, RegExp]> = [
      [title.repeat(1e8), /title\.repeat is a built-in method of String\.prototype/],
      [remote.list.push(4), /Array\.prototype/],
      [remote.list.includes(2), /Array\.prototype/],
      [remote.users.clear(), /Map\.prototype/],
      [remote.tally.set('x', 1), /Map\.prototype/], // inherited by an app class
      [remote.board.notes.splice(0, 1), /Array\.prototype/],
    ]
    for (const [call, message] of refusals) {
      const error = await failure(call)
      expect(error).toMatchObject(denied)
      expect((error as Error).message).toMatch(message)
    }
    expect(shared.list).toEqual([1, 2, 3])
    expect(shared.users.size).toBe(1)
    expect(shared.board.notes).toEqual(['a'])
    // Reading built-in members, and calling own functions and the app's methods, still work.
    expect(await title.length).toBe(5)
    expect(await remote.users.size).toBe(1)
    expect(await remote.list[1]).toBe(2)
    expect(await remote.now()).toBe(7)
    expect(await remote.board.add('b')).toBe(2)
    expect(await remote.tally.bump('x')).toBe(1)
    expect(pair.b.stats().closed).toBe(false)
  })
})

describe('custom authorizers', () => {
  test('async: operations on a result issued before awaiting it apply before those issued after', async () => {
    const applied: number[] = []
    class Item extends RpcTarget {
      bump(n: number): void {
        applied.push(n)
      }
    }
    // The first screening of bump takes a few macrotasks; every other one answers at once.
    let slowOnce = true
    const authorize: Authorizer = async (_peer, _operation, path) => {
      if (path.at(-1) === 'bump' && slowOnce) {
        slowOnce = false
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
      }
      return true
    }
    const pair = createMemoryPair({ b: { authorize } })
    pair.exportsB.expose('api', { make: () => new Item() })
    const api = pair.a.resolve<{ make(): Item }>('api')
    const item = api.make()
    void item.bump(1) // pipelined on the pending result: waits in its queue for the verdict
    const stub = await item // the result arrives…
    await stub.bump(2) // …and this goes to the reference it holds, not to the result's queue
    expect(applied).toEqual([1, 2])
  })

  test('a sync authorizer sees peer, operation, full path and origin', async () => {
    const seen: unknown[] = []
    const authorize: Authorizer = (peer, operation, path, origin) => {
      seen.push([peer, operation, path, origin])
      return operation !== 'set'
    }
    const pair = createMemoryPair({ b: { authorize } })
    pair.exportsB.expose('obj', { ...fixture(), run: (cb: () => void) => cb() })
    const remote = pair.a.resolve<Fixture & { run(cb: () => void): void }>('obj')
    expect(await remote._secret).toBe('s3cret') // the default rule is replaced
    expect(await failure(set(remote.visible, 2))).toMatchObject(denied)
    await remote.run(() => undefined)
    expect(seen).toEqual([
      ['a', 'resolve', ['obj'], 'name'],
      ['a', 'get', ['obj', '_secret'], 'name'],
      ['a', 'set', ['obj', 'visible'], 'name'],
      ['a', 'call', ['obj', 'run'], 'name'],
    ])
  })

  test('an async authorizer denies per caller; other operations go on', async () => {
    const order: number[] = []
    const authorize: Authorizer = async (_peer, _op, path) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return path[1] !== 'blocked'
    }
    const pair = createMemoryPair({ b: { authorize } })
    pair.exportsB.expose('obj', { push: (n: number) => order.push(n), blocked: () => 'no' })
    const remote = pair.a.resolve<{ push(n: number): number; blocked(): string }>('obj')
    const calls = [remote.push(0), remote.blocked(), remote.push(1)]
    const results = await Promise.allSettled(calls.map((call) => Promise.resolve(call)))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(results[1]).toMatchObject({ reason: denied })
    expect(order).toEqual([0, 1])
    expect(pair.b.stats().closed).toBe(false)
  })

  test('operations of one peer on one object start in the order issued under an async authorizer', async () => {
    const order: number[] = []
    let delay = 30
    const authorize: Authorizer = async () => {
      const wait = (delay = Math.max(0, delay - 5))
      for (let i = 0; i < wait; i++) await Promise.resolve()
      return true
    }
    const pair = createMemoryPair({ b: { authorize } })
    pair.exportsB.expose('obj', { push: (n: number) => order.push(n) })
    const remote = pair.a.resolve<{ push(n: number): number }>('obj')
    await Promise.all([0, 1, 2, 3, 4, 5].map((n) => remote.push(n)))
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
  })

  test('a throwing or rejecting authorizer denies, with the cause kept', async () => {
    const boom = new Error('authorizer broke')
    const pair = createMemoryPair({
      b: { authorize: (_p, op) => (op === 'get' ? Promise.reject(boom) : true) },
    })
    pair.exportsB.expose('obj', fixture())
    const remote = pair.a.resolve<Fixture>('obj')
    expect(await failure(remote.visible)).toMatchObject({ code: 'ERR_DENIED' })
    expect(await remote.fn(1)).toBe(1)
  })
})

describe('calling what is not there', () => {
  test('a missing member rejects ERR_NOT_FOUND naming it; a member that is no function, TypeError', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { count: 1, nested: {} })
    const api = pair.a.resolve<{
      missing(): void
      count: () => void
      nested: { deeper(): void }
      Missing: new () => object
    }>('api')
    await expect(api.missing()).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringMatching(/missing does not exist on the exposed object/),
    })
    await expect(api.nested.deeper()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(new api.Missing()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(await failure(api.count())).toBeInstanceOf(TypeError)
    expect(pair.b.stats().closed).toBe(false)
    pair.close()
  })
})

describe('remote errors', () => {
  class HttpError extends Error {
    override name = 'HttpError'
    constructor(
      message: string,
      readonly status: number,
      options?: ErrorOptions,
    ) {
      super(message, options)
    }
  }
  const thrower = {
    type: () => {
      throw new TypeError('bad type')
    },
    http: () => {
      throw new HttpError('not found', 404, { cause: new RangeError('inner') })
    },
    text: () => {
      throw 'just a string'
    },
    async coded() {
      throw new PeerjectError('ERR_NOT_FOUND', 'no such thing')
    },
    deepInThrowerFunction() {
      throw new Error('with stack')
    },
  }

  test('class name, message, cause chain and own properties cross; non-Errors become ERR_REMOTE', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('thrower', thrower)
    const remote = pair.a.resolve<typeof thrower>('thrower')
    const type = await failure(remote.type())
    expect(type).toBeInstanceOf(TypeError)
    expect(type).toMatchObject({ message: 'bad type' })
    const http = (await failure(remote.http())) as HttpError
    expect(http).toBeInstanceOf(Error)
    expect(http).toMatchObject({ name: 'HttpError', message: 'not found', status: 404 })
    expect(http.cause).toBeInstanceOf(RangeError)
    expect(http.cause).toMatchObject({ message: 'inner' })
    expect(await failure(remote.text())).toMatchObject({
      code: 'ERR_REMOTE',
      cause: 'just a string',
    })
    const coded = await failure(remote.coded())
    expect(coded).toBeInstanceOf(PeerjectError)
    expect(coded).toMatchObject({ code: 'ERR_NOT_FOUND' })
    const plain = (await failure(remote.deepInThrowerFunction())) as Error
    expect(plain.stack ?? '').not.toContain('deepInThrowerFunction')
  })

  test('registered classes are revived as that class; stacks cross only when opted in', async () => {
    const classes = new ClassRegistry()
    classes.register(HttpError)
    const codec = { classes, includeStacks: true }
    const pair = createMemoryPair({ a: { codec }, b: { codec } })
    pair.exportsB.expose('thrower', thrower)
    const remote = pair.a.resolve<typeof thrower>('thrower')
    const http = await failure(remote.http())
    expect(http).toBeInstanceOf(HttpError)
    expect(http).toMatchObject({ status: 404, message: 'not found' })
    const plain = (await failure(remote.deepInThrowerFunction())) as Error
    expect(plain.stack).toContain('deepInThrowerFunction')
  })
})
