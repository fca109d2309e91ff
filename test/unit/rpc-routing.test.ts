/** Promise pipelining and three-party routing through a middle peer. */
import { describe, expect, test } from 'vitest'
import { markByReference } from '../../src/codec/index.js'
import { PeerjectError } from '../../src/errors.js'
import {
  createMemoryPair,
  ExportRegistry,
  remove,
  RpcTarget,
  set,
  type Remote,
  type RpcSession,
} from '../../src/rpc/index.js'
import { rejection as failure } from '../helpers/rejection.js'

class Counter extends RpcTarget {
  value = 0
  add(n: number): number {
    this.value += n
    return this.value
  }
}

describe('promise pipelining', () => {
  interface Api {
    user(id: number): { profile(): { name(): string } }
  }
  const api = {
    user: (id: number) => ({ profile: () => ({ name: () => `user ${id}` }) }),
  }

  test('three dependent calls are sent back to back and cost one round trip', async () => {
    const latencyMs = 40
    const pair = createMemoryPair({ latencyMs })
    pair.exportsB.expose('api', api)
    const remote = pair.a.resolve<Api>('api')
    await pair.settle()
    pair.log.length = 0
    const started = performance.now()
    expect(await remote.user(1).profile().name()).toBe('user 1')
    const elapsed = performance.now() - started
    const firstReply = pair.log.findIndex((entry) => entry.from === 'b')
    const requests = pair.log.slice(0, firstReply).map((entry) => entry.message)
    expect(requests).toEqual([
      ['call', 2, 1, ['user'], [1]],
      ['call', 3, 2, ['profile'], []],
      ['call', 4, 3, ['name'], []],
      ['pull', 4],
    ])
    expect(pair.log.filter((entry) => entry.from === 'b')).toHaveLength(1)
    // One round trip is 2 × latency; a sequential chain would need 6 ×.
    expect(elapsed).toBeGreaterThanOrEqual(2 * latencyMs - 5)
    expect(elapsed).toBeLessThan(4 * latencyMs)
  })

  test('operations on a pending result wait for it on the exporter and start in order', async () => {
    const pair = createMemoryPair()
    const order: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    pair.exportsB.expose('api', {
      async slow() {
        await gate
        return { step: (name: string) => order.push(name) }
      },
    })
    const remote = pair.a.resolve<{ slow(): { step(name: string): number } }>('api')
    const pending = remote.slow()
    const calls = [pending.step('one'), pending.step('two'), pending.step('three')]
    await pair.settle()
    expect(order).toEqual([])
    release()
    await Promise.all(calls)
    expect(order).toEqual(['one', 'two', 'three'])
  })
})

/** Two sessions joined by a middle peer: a↔b (pairAB) and b↔c (pairBC) share b's registry. */
function threeParties(): {
  a: ExportRegistry
  b: ExportRegistry
  bToA: RpcSession
  cToB: RpcSession
  close(): void
} {
  const a = new ExportRegistry()
  const b = new ExportRegistry()
  const ab = createMemoryPair({ a: { id: 'B', exports: b }, b: { id: 'A', exports: a } })
  const bc = createMemoryPair({ a: { id: 'C' }, b: { id: 'B', exports: b } })
  return {
    a,
    b,
    bToA: ab.a,
    cToB: bc.a,
    close: () => {
      ab.close()
      bc.close()
    },
  }
}

describe('order', () => {
  test('operations through a result and through its awaited stub keep the order issued', async () => {
    const order: number[] = []
    class Steps extends RpcTarget {
      step(n: number): void {
        order.push(n)
      }
    }
    const pair = createMemoryPair()
    pair.exportsB.expose('api', { get: () => new Steps() })
    const remote = pair.a.resolve<{ get(): Steps }>('api')
    const result = remote.get()
    const stub = await result
    const done = [result.step(1), stub.step(2), result.step(3), stub.step(4)]
    await Promise.all(done)
    expect(order).toEqual([1, 2, 3, 4])
    pair.close()
  })
})

describe('three parties', () => {
  test('C calls a stub of A’s object through B, callbacks flow back, identity survives', async () => {
    const { a, b, bToA, cToB, close } = threeParties()
    const counter = new Counter()
    const seen: number[] = []
    a.expose('counter', counter)
    a.expose('check', { isCounter: (x: unknown) => x === counter })
    const counterAtB = bToA.resolve<Counter>('counter')
    const checkAtB = bToA.resolve<{ isCounter(x: unknown): boolean }>('check')
    b.expose('hub', {
      counter: () => counterAtB,
      check: (x: unknown) => checkAtB.isCounter(x),
      watch: (fn: (n: number) => void) => counterAtB.add(0).then(fn),
    })
    const hub = cToB.resolve<{
      counter(): Counter
      check(x: unknown): boolean
      watch(fn: (n: number) => void): void
    }>('hub')
    const counterAtC = (await hub.counter()) as unknown as Remote<Counter>
    expect(await counterAtC.add(5)).toBe(5)
    expect(counter.value).toBe(5)
    expect(await counterAtC.value).toBe(5)
    // C's stub goes back to B (becoming B's stub of A's counter), then to A: the original.
    expect(await hub.check(counterAtC)).toBe(true)
    await hub.watch((n) => void seen.push(n))
    expect(seen).toEqual([5])
    close()
  })

  test('set, delete and calls of any member name on a stub at the end of the path reach its owner', async () => {
    const { a, b, bToA, cToB, close } = threeParties()
    const obj = { x: 1, call: () => 'called', toString: () => 'mine' }
    a.expose('obj', obj)
    a.expose('ro', Object.freeze({ y: 1 }))
    b.expose('hub', { obj: bToA.resolve('obj'), ro: bToA.resolve('ro') })
    type Target = { x: number; call(): string; toString(): string }
    const hub = cToB.resolve<{ obj: Target; ro: { y: number } }>('hub')
    // A's own answers, not B's fire-and-forget writes on its proxy.
    const frozen = await failure(set(hub.ro.y, 2))
    expect(frozen).toBeInstanceOf(TypeError)
    expect(frozen.message).toContain('read-only')
    expect(await remove(hub.ro.y)).toBe(false)
    await set(hub.obj.x, 5)
    expect(obj.x).toBe(5)
    expect(await remove(hub.obj.x)).toBe(true)
    expect('x' in obj).toBe(false)
    expect(await hub.obj.call()).toBe('called')
    expect(await hub.obj.toString()).toBe('mine')
    close()
  })

  test('operations through a settled result that is a stub are awaitable too', async () => {
    const pair = createMemoryPair()
    const inner = Object.freeze(markByReference({ y: 1 }))
    pair.exportsB.expose('api', { get: () => inner })
    const api = pair.a.resolve<{ get(): { y: number } }>('api')
    const result = api.get()
    await result
    expect(await failure(set(result.y, 2))).toBeInstanceOf(TypeError)
    expect(await remove(result.y)).toBe(false)
    pair.close()
  })

  test('functions stay callable: marked by reference, and a stub of one handed on to C', async () => {
    const { a, b, bToA, cToB, close } = threeParties()
    a.expose('api', { double: (n: number) => 2 * n })
    const doubleAtB = bToA.resolve<{ double(n: number): number }>('api').double
    const marked = markByReference((n: number) => n + 1)
    b.expose('hub', { double: () => doubleAtB, increment: () => marked })
    const hub = cToB.resolve<{
      double(): (n: number) => number
      increment(): (n: number) => number
    }>('hub')
    const routed = await hub.double()
    expect(typeof routed).toBe('function')
    expect(await routed(21)).toBe(42)
    const increment = await hub.increment()
    expect(typeof increment).toBe('function')
    expect(await increment(1)).toBe(2)
    close()
  })

  test('B leaving fails C’s routed calls with ERR_PEER_LEFT', async () => {
    const a = new ExportRegistry()
    const b = new ExportRegistry()
    let gateOpen!: () => void
    const gate = new Promise<void>((resolve) => (gateOpen = resolve))
    a.expose('slow', { run: () => gate.then(() => 1) })
    const ab = createMemoryPair({ a: { id: 'B', exports: b }, b: { id: 'A', exports: a } })
    const slowAtB = ab.a.resolve<{ run(): number }>('slow')
    b.expose('hub', { run: () => slowAtB.run() })
    const bc = createMemoryPair({ a: { id: 'C' }, b: { id: 'B', exports: b } })
    const hub = bc.a.resolve<{ run(): number }>('hub')
    const result = hub.run()
    await bc.settle()
    ab.a.close(new PeerjectError('ERR_PEER_LEFT', 'A left'))
    expect(await failure(result)).toMatchObject({ code: 'ERR_PEER_LEFT' })
    gateOpen()
    ab.close()
    bc.close()
  })
})
