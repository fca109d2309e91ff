/** Release, refcounts, garbage collection, peer leave, timeouts, abort and quotas. */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, test } from 'vitest'
import { PeerjectError } from '../../src/errors.js'
import {
  createMemoryPair,
  release,
  withOptions,
  type FinalizerFactory,
  type FinalizerToken,
} from '../../src/rpc/index.js'
import { rejection as failure } from '../helpers/rejection.js'

interface Api {
  fn(): () => string
  hang(): Promise<number>
  echo(x: number): number
  readonly slow: number
}
const api = (): Api => {
  const fn = (): string => 'ok'
  return {
    fn: () => fn,
    hang: () => new Promise<number>(() => undefined),
    echo: (x) => x,
    get slow(): number {
      return new Promise<number>(() => undefined) as unknown as number
    },
  }
}

function zero(stats: { imports: number; exports: number; pendingCalls: number; inFlight: number }) {
  return {
    imports: stats.imports,
    exports: stats.exports,
    pending: stats.pendingCalls,
    inFlight: stats.inFlight,
  }
}

describe('release and refcounts', () => {
  test('release with counts frees exports on the other side', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const first = await remote.fn()
    const second = await remote.fn()
    expect(second).toBe(first)
    expect(await first()).toBe('ok')
    await pair.settle()
    expect(pair.b.stats().exports).toBe(2) // 'api' and the function (sent twice)
    release(first)
    release(remote)
    await pair.settle()
    const releases = pair.log.filter((e) => (e.message as unknown[])[0] === 'release')
    expect(releases.map((e) => e.message)).toContainEqual(['release', -1, 2])
    expect(zero(pair.a.stats())).toEqual({ imports: 0, exports: 0, pending: 0, inFlight: 0 })
    expect(zero(pair.b.stats())).toEqual({ imports: 0, exports: 0, pending: 0, inFlight: 0 })
    expect(await failure(first())).toMatchObject({ code: 'ERR_CLOSED' })
  })

  test('an id re-sent while its release is in flight stays alive (counts, not flags)', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const fn = await remote.fn()
    const again = remote.fn() // the reply will carry the same export id …
    fn[Symbol.dispose]() // … and this release crosses it on the wire
    const revived = await again
    expect(revived).not.toBe(fn)
    expect(await revived()).toBe('ok')
    await pair.settle()
    expect(pair.b.stats().exports).toBe(2)
  })

  test('`using` releases at the end of the scope', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    {
      using remote = pair.a.resolve<Api>('api')
      expect(await remote.echo(1)).toBe(1)
    }
    await pair.settle()
    expect(pair.b.stats().exports).toBe(0)
  })

  test('an injected finalization registry releases collected stubs', async () => {
    const registered: Array<{ held: FinalizerToken; target: WeakRef<object> }> = []
    let cleanup!: (held: FinalizerToken) => void
    const finalizer: FinalizerFactory = (fn) => {
      cleanup = fn
      return {
        register: (target, held) => void registered.push({ held, target: new WeakRef(target) }),
        unregister: () => undefined,
      }
    }
    const pair = createMemoryPair({ a: { finalizer } })
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    await remote.fn()
    await pair.settle()
    expect(pair.b.stats().exports).toBe(2)
    for (const { held } of registered) cleanup(held) // as if every handle had been collected
    await pair.settle()
    expect(pair.b.stats().exports).toBe(0)
    expect(pair.a.stats().imports).toBe(0)
  })

  test('an answer awaited at once never reaches the registry; a forgotten one does and is released', async () => {
    const registered: FinalizerToken[] = []
    let cleanup!: (held: FinalizerToken) => void
    const finalizer: FinalizerFactory = (fn) => {
      cleanup = fn
      return {
        register: (_target, held) => void registered.push(held),
        unregister: () => undefined,
      }
    }
    const pair = createMemoryPair({ a: { finalizer } })
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    expect(await remote.echo(1)).toBe(1)
    expect(await remote.echo(2)).toBe(2)
    expect(registered).toHaveLength(1) // the named import; its awaited answers were never registered
    void remote.echo(3) // issued, never awaited: only the registry can release it
    await pair.settle()
    expect(registered).toHaveLength(2)
    expect(pair.b.stats().exports).toBe(2) // the name and the forgotten answer
    cleanup(registered[1]!)
    await pair.settle()
    expect(pair.b.stats().exports).toBe(1)
    expect(pair.a.stats().imports).toBe(1)
  })

  test('the real FinalizationRegistry releases a forgotten stub after garbage collection', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    await (async () => {
      const remote = pair.a.resolve<Api>('api')
      await remote.fn()
    })()
    await pair.settle()
    expect(pair.b.stats().exports).toBe(2)
    // Finalization callbacks run as tasks after a collection: let one turn of the loop pass.
    for (let attempt = 0; attempt < 50 && pair.b.stats().exports > 0; attempt++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
      await pair.settle()
    }
    expect(pair.b.stats().exports).toBe(0)
  })
})

describe('peer leave', () => {
  test('every pending call rejects ERR_PEER_LEFT and the tables empty', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    pair.exportsA.expose('mine', { f: () => 1 })
    const remote = pair.a.resolve<Api>('api')
    const fn = await remote.fn()
    await remote.echo(1)
    const pending = [
      remote.hang(),
      remote.hang(),
      remote.slow,
      fn.length as unknown as Promise<number>,
    ]
    await pair.settle()
    const reason = new PeerjectError('ERR_PEER_LEFT', 'peer b left')
    pair.a.close(reason)
    pair.b.close(reason)
    for (const promise of pending) {
      expect(await failure(promise)).toMatchObject({ code: 'ERR_PEER_LEFT' })
    }
    expect(await failure(fn())).toBe(reason)
    expect(await failure(remote.echo(2))).toBe(reason)
    expect(await failure(pair.a.list())).toBe(reason)
    expect(await failure(pair.a.resolve<Api>('api').echo(1))).toBe(reason)
    expect(zero(pair.a.stats())).toEqual({ imports: 0, exports: 0, pending: 0, inFlight: 0 })
    expect(zero(pair.b.stats())).toEqual({ imports: 0, exports: 0, pending: 0, inFlight: 0 })
  })

  test('a close for another reason still rejects ERR_PEER_LEFT, with the reason as cause', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const call = pair.a.resolve<Api>('api').hang()
    await pair.settle()
    const reason = new PeerjectError('ERR_CONNECT', 'ice failed')
    pair.a.close(reason)
    expect(await failure(call)).toMatchObject({ code: 'ERR_PEER_LEFT', cause: reason })
  })
})

describe('timeout and abort', () => {
  test('timeoutMs rejects ERR_TIMEOUT and releases the abandoned result', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = withOptions(pair.a.resolve<Api>('api'), { timeoutMs: 30 })
    expect(await failure(remote.hang())).toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(await remote.echo(3)).toBe(3) // options do not break normal calls
    await pair.settle()
    expect(pair.b.stats().exports).toBe(1)
    expect(pair.a.stats().pendingCalls).toBe(0)
  })

  test('a signal rejects ERR_ABORTED; an aborted signal sends nothing', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const controller = new AbortController()
    const call = withOptions(remote, { signal: controller.signal }).hang()
    const read = withOptions(remote, { signal: controller.signal }).echo
      .name as unknown as Promise<string>
    await pair.settle()
    controller.abort(new Error('user'))
    expect(await failure(call)).toMatchObject({ code: 'ERR_ABORTED' })
    expect(await failure(read)).toMatchObject({ code: 'ERR_ABORTED' })
    const before = pair.log.length
    expect(await failure(withOptions(remote, { signal: controller.signal }).echo(1))).toMatchObject(
      {
        code: 'ERR_ABORTED',
      },
    )
    expect(pair.log.length).toBe(before)
    await pair.settle()
    expect(pair.b.stats().exports).toBe(1)
  })
})

describe('late replies', () => {
  test('references in a reply that arrives after its timeout are given back at once, not at GC', async () => {
    // Each direction takes 40 ms: the call times out (20 ms) before B's reply can arrive, and A's
    // release of the answer reaches B only after B has replied.
    const pair = createMemoryPair({ latencyMs: 40 })
    const shared = (): string => 'shared'
    pair.exportsB.expose('api', {
      shared: () => shared,
      both: () => ({ own: () => 'own', shared }),
    })
    const remote = pair.a.resolve<{
      shared(): () => string
      both(): { own(): string; shared(): string }
    }>('api')
    const kept = await remote.shared() // A holds `shared` from this earlier reply
    await pair.settle()
    const before = pair.b.stats().exports // the name, and `shared` once
    const late = await failure(withOptions(remote, { timeoutMs: 20 }).both())
    expect(late).toMatchObject({ code: 'ERR_TIMEOUT' })
    await pair.settle() // the late reply arrives and is dropped; what it brought goes back
    const releases = pair.log.filter(
      (entry) => entry.from === 'a' && (entry.message as unknown[])[0] === 'release',
    )
    expect(releases.map((entry) => entry.message)).toEqual(
      expect.arrayContaining([
        ['release', -1, 1], // `shared`: one of its two counts (A still holds it)
        ['release', -2, 1], // `own`: its only count
      ]),
    )
    expect(pair.b.stats().exports).toBe(before)
    expect(await kept()).toBe('shared') // the stub A kept still works
    pair.close()
  })

  test('a huge late reply is walked within bounds and never breaks the session', async () => {
    const pair = createMemoryPair({ latencyMs: 40 })
    pair.exportsB.expose('api', {
      big: () => ({ items: new Array(300_000).fill(0), own: () => 'own' }),
      echo: (x: number) => x,
    })
    const remote = pair.a.resolve<{ big(): unknown; echo(x: number): number }>('api')
    const late = await failure(withOptions(remote, { timeoutMs: 20 }).big())
    expect(late).toMatchObject({ code: 'ERR_TIMEOUT' })
    await pair.settle()
    expect(pair.a.stats().closed).toBe(false)
    expect(await remote.echo(7)).toBe(7)
    pair.close()
  })
})

describe('options on results, and bad options', () => {
  test('withOptions on a result bounds awaiting it: ERR_TIMEOUT, or ERR_ABORTED on its signal', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const timedOut = await failure(withOptions(remote.hang(), { timeoutMs: 30 }))
    expect(timedOut).toMatchObject({ code: 'ERR_TIMEOUT' })
    const controller = new AbortController()
    const waiting = failure(withOptions(remote.hang(), { signal: controller.signal }))
    controller.abort()
    expect(await waiting).toMatchObject({ code: 'ERR_ABORTED' })
    expect(await withOptions(remote.echo(6), { timeoutMs: 1000 })).toBe(6)
    pair.close()
  })

  test('timeoutMs beyond what a timer holds, or Infinity, is no timeout; a bad one is a RangeError', async () => {
    const pair = createMemoryPair()
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    for (const timeoutMs of [Number.POSITIVE_INFINITY, 3e9]) {
      expect(await withOptions(remote, { timeoutMs }).echo(7)).toBe(7)
    }
    for (const timeoutMs of [0, -1, Number.NaN]) {
      expect(() => withOptions(remote, { timeoutMs })).toThrow(RangeError)
    }
    pair.close()
  })
})

describe('quotas', () => {
  test('list() counts toward maxCallsInFlight like any operation', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const pair = createMemoryPair({
      b: { limits: { maxCallsInFlight: 2 }, authorize: () => gate.then(() => true) },
    })
    pair.exportsB.expose('api', api())
    const lists = [pair.a.list(), pair.a.list(), pair.a.list()]
    expect(await failure(lists[2]!)).toMatchObject({ code: 'ERR_QUOTA' })
    open()
    expect(await Promise.all(lists.slice(0, 2))).toEqual([['api'], ['api']])
    expect(pair.b.stats().inFlight).toBe(0)
    pair.close()
  })

  test('maxImports counts references the peer sent, not this side’s own pending results', async () => {
    const errors: PeerjectError[] = []
    const pair = createMemoryPair({
      a: { limits: { maxImports: 2 }, onError: (error) => errors.push(error) },
    })
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const held = [1, 2, 3, 4].map((n) => remote.echo(n)) // results not awaited yet: 4 records
    await pair.settle()
    const fn = await remote.fn() // one reference from the peer: within the limit
    expect(await fn()).toBe('ok')
    expect(await Promise.all(held)).toEqual([1, 2, 3, 4])
    expect(errors).toEqual([])
    expect(pair.a.closed).toBeUndefined()
  })

  test('a call over the peer’s maxMessageBytes fails at once; what depends on it fails here, not there', async () => {
    const errors: PeerjectError[] = []
    const pair = createMemoryPair({
      a: { maxMessageBytes: 10_000 },
      b: { onError: (error) => errors.push(error) },
    })
    pair.exportsB.expose('api', { big: (x: string[]) => x.length, use: (x: unknown) => typeof x })
    const remote = pair.a.resolve<{ big(x: string[]): number; use(x: unknown): string }>('api')
    await pair.settle() // the resolve went out
    const before = pair.log.length
    const big = remote.big(new Array<string>(5000).fill('xxxx'))
    const use = failure(remote.use(big)) // pipelined on a result that will never exist
    release(big)
    expect(await failure(big)).toMatchObject({ code: 'ERR_TOO_LARGE' })
    expect(await use).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    await pair.settle()
    expect(pair.log.slice(before)).toEqual([]) // neither the call, its release nor `use` went out
    expect(await remote.use(1)).toBe('number')
    expect(errors).toEqual([])
    expect(pair.b.closed).toBeUndefined()
  })

  test('calls in flight beyond the limit reject ERR_QUOTA; later calls work', async () => {
    const pair = createMemoryPair({ b: { limits: { maxCallsInFlight: 2 } } })
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    pair.exportsB.expose('api', { wait: () => gate, echo: (x: number) => x })
    const remote = pair.a.resolve<{ wait(): void; echo(x: number): number }>('api')
    const [first, second, third] = [remote.wait(), remote.wait(), remote.wait()]
    expect(await failure(third)).toMatchObject({ code: 'ERR_QUOTA' })
    open()
    await Promise.all([first, second])
    expect(await remote.echo(4)).toBe(4)
  })

  test('results beyond maxExports are dropped with ERR_QUOTA; releasing makes room', async () => {
    const pair = createMemoryPair({ b: { limits: { maxExports: 2 } } })
    pair.exportsB.expose('api', api())
    const remote = pair.a.resolve<Api>('api')
    const held = remote.hang() // pending result: the second entry
    expect(await failure(remote.echo(1))).toMatchObject({ code: 'ERR_QUOTA' })
    release(held)
    await pair.settle()
    expect(await remote.echo(2)).toBe(2)
    await pair.settle()
    expect(pair.b.stats().exports).toBe(1)
  })

  test('a resolve dropped for maxExports: uses of the stub reject ERR_QUOTA, pipelined or later', async () => {
    const pair = createMemoryPair({ b: { limits: { maxExports: 2 } } })
    pair.exportsB.expose('api', api())
    pair.exportsB.expose('other', { v: 2 })
    const remote = pair.a.resolve<Api>('api')
    const held = remote.hang() // the second entry: the table is full
    const other = pair.a.resolve<{ v: number }>('other')
    expect(await failure(other.v)).toMatchObject({ code: 'ERR_QUOTA' }) // sent before the refusal
    await pair.settle()
    expect(await failure(other.v)).toMatchObject({ code: 'ERR_QUOTA' }) // after it: fails here
    release(held)
    await pair.settle()
    expect(pair.b.stats().exports).toBe(1)
  })

  test('references beyond maxExports fail that reply with ERR_QUOTA', async () => {
    const pair = createMemoryPair({ b: { limits: { maxExports: 3 } } })
    pair.exportsB.expose('api', { make: () => () => 1 })
    const remote = pair.a.resolve<{ make(): () => number }>('api')
    const kept = await remote.make() // entries: api, the function (and the result, until released)
    expect(await failure(remote.make())).toMatchObject({ code: 'ERR_QUOTA' })
    release(kept)
    await pair.settle()
    expect(await (await remote.make())()).toBe(1)
  })
})
