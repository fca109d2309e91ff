/**
 * Issue 4 (references) over real WebRTC: Node peers (node-datachannel) meet through the real
 * signaling server on port 0, expose objects, resolve stubs and use them — calls, reads, writes,
 * `new`, callbacks both ways, by-reference objects, three-party routing, pipelining, errors, the
 * authorizer, peer leave, timeouts, quotas, release and hostile peers.
 *
 * Round trips are counted on the wire: `peer.wire.sendMessage` (the rpc session's `send`, looked up
 * per message) is wrapped to log outgoing channel-1 messages, and `peer.wire.on('message')` logs
 * incoming ones. Over ~400 lines on purpose: one file per issue, one `describe` per concern.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { NodeJoinOptions } from '../../src/node.js'
import {
  ClassRegistry,
  RpcTarget,
  defaultAuthorizer,
  isStub,
  markByReference,
  release,
  remove,
  set,
  withOptions,
} from '../../src/index.js'
import type { Peer, Remote, Room } from '../../src/index.js'
import { Codec } from '../../src/codec/index.js'
import { isPeerjectError, type PeerjectError } from '../../src/errors.js'
import { useSignaling } from '../helpers/signaling.js'
import { waitForLeave, waitForPeers } from '../helpers/events.js'
import { rpcTags } from '../helpers/rpc-tags.js'
import { rejection as failure } from '../helpers/rejection.js'

const RPC = 1
const server = useSignaling()
const { rooms } = server

/**
 * Joins `count` peers into a fresh room (or the room of `into`; options per index) and waits for
 * the full mesh.
 *
 * No retry here: the mesh retries connection attempts that fail early (docs/architecture.md).
 */
async function group(
  count: number,
  options: (index: number) => Partial<NodeJoinOptions> = () => ({}),
  into: readonly Room[] = [],
): Promise<Room[]> {
  const name = into[0]?.name ?? `refs-${crypto.randomUUID()}`
  const joined: Room[] = []
  const offs: Array<() => void> = []
  let fail!: (error: PeerjectError) => void
  const failed = new Promise<never>((_resolve, reject) => (fail = reject))
  try {
    for (let i = 0; i < count; i++) {
      const room = await joinRoom({ signaling: server.url, room: name, ...options(i) })
      joined.push(room)
      offs.push(room.on('error', fail))
    }
    for (const room of into) offs.push(room.on('error', fail))
    const all = [...into, ...joined]
    await Promise.race([
      failed,
      Promise.all(
        all.map((room) =>
          waitForPeers(
            room,
            all.filter((other) => other !== room).map((other) => other.self),
          ),
        ),
      ),
    ])
  } catch (error) {
    for (const room of joined) room.leave()
    throw error
  } finally {
    for (const off of offs) off()
  }
  rooms.push(...joined)
  return joined
}

/** `from`'s view of `to`. */
function link(from: Room, to: Room): Peer {
  const peer = from.peers.get(to.self)
  if (peer === undefined) throw new Error(`${from.self} is not connected to ${to.self}`)
  return peer
}

/** A stub's member by name, past what its type allows (names a peer must not reach). */
function member(
  stub: unknown,
  ...path: string[]
): ((...args: unknown[]) => PromiseLike<unknown>) & PromiseLike<unknown> {
  return path.reduce((value, key) => (value as Record<string, unknown>)[key], stub) as ((
    ...args: unknown[]
  ) => PromiseLike<unknown>) &
    PromiseLike<unknown>
}

function code(error: unknown): string | undefined {
  return isPeerjectError(error) ? error.code : undefined
}

/** A promise with its resolver, for gates the test opens. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => (resolve = done))
  return { promise, resolve }
}

class Point extends RpcTarget {
  constructor(
    public x: number,
    public y: number,
  ) {
    super()
  }
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}

class Counter {
  value = 0
  onChange: ((value: number) => void) | undefined
  readonly #listeners = new Set<(value: number) => void>()
  add(n: number): number {
    this.value += n
    this.onChange?.(this.value)
    for (const listener of this.#listeners) listener(this.value)
    return this.value
  }
  subscribe(listener: (value: number) => void): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }
}

interface Api {
  items: string[]
  extra?: string
  title: string
  _secret: string
  Point: typeof Point
  counter: Counter
  echo(value: unknown): unknown
  twice(callback: (n: number) => number, n: number): Promise<number>
  makeTarget(): Point
  makeMarked(): { hello(): string }
  isOriginal(value: unknown): boolean
}

function makeApi(): { api: Api; target: Point } {
  const target = new Point(3, 4)
  const api: Api = {
    items: ['a', 'b', 'c'],
    extra: 'remove me',
    title: 'board',
    _secret: 'hidden',
    Point,
    counter: new Counter(),
    echo: (value) => value,
    twice: async (callback, n) => (await callback(n)) * 2,
    makeTarget: () => target,
    makeMarked: () => markByReference({ hello: () => 'marked' }),
    isOriginal: (value) => value === target,
  }
  return { api, target }
}

describe('references between Node peers over real WebRTC', () => {
  let a: Room
  let b: Room
  let c: Room
  let bApi: Api

  beforeAll(async () => {
    ;[a, b, c] = (await group(3)) as [Room, Room, Room]
    bApi = makeApi().api
    b.expose('api', bApi)
    b.expose('counter', bApi.counter)
  })

  it('expose / unexpose / list / resolve', async () => {
    b.expose('temporary', { ping: () => 'pong' })
    expect(b.exposed()).toEqual(['api', 'counter', 'temporary'])
    expect(await link(a, b).list()).toEqual(['api', 'counter', 'temporary'])
    const temporary = link(a, b).resolve<{ ping(): string }>('temporary')
    expect(await temporary.ping()).toBe('pong')
    b.unexpose('temporary')
    expect(await link(a, b).list()).toEqual(['api', 'counter'])
    // A stub resolved before unexpose keeps working; a new resolve does not find the name.
    expect(await temporary.ping()).toBe('pong')
    const gone = link(a, b).resolve<{ ping(): string }>('temporary')
    expect(code(await failure(gone.ping()))).toBe('ERR_NOT_FOUND')
    expect(await link(b, a).list()).toEqual([])
  })

  it('calls, reads, both kinds of writes, indexing, length, delete and new', async () => {
    const api = link(a, b).resolve<Api>('api')
    expect(await api.echo({ nested: [1, 2n, new Date(0)] })).toEqual({
      nested: [1, 2n, new Date(0)],
    })
    expect(await api.title).toBe('board')
    expect(await api.items[1]).toBe('b')
    expect(await api.items.length).toBe(3)
    // Fire-and-forget assignment; later operations on the same reference start after it.
    ;(api as unknown as { title: string }).title = 'renamed'
    expect(await api.title).toBe('renamed')
    expect(bApi.title).toBe('renamed')
    await set(api.title, 'again')
    expect(bApi.title).toBe('again')
    await set(api.items[3]!, 'd')
    expect(await api.items.length).toBe(4)
    expect(await remove(api.extra)).toBe(true)
    expect('extra' in bApi).toBe(false)
    bApi.extra = 'back'
    delete (api as { extra?: unknown }).extra
    expect(await api.extra).toBeUndefined()
    const point = await new api.Point(6, 8)
    expect(isStub(point)).toBe(true)
    expect(await point.norm()).toBe(10)
    expect(await point.x).toBe(6)
  })

  it('callbacks both ways, the onChange idiom and subscribe', async () => {
    const api = link(a, b).resolve<Api>('api')
    // A's callback called by B, whose result B doubles.
    expect(await api.twice((n) => n + 1, 4)).toBe(10)
    const counter = link(a, b).resolve<Counter>('counter')
    const changed = deferred<number>()
    counter.onChange = (value) => changed.resolve(value)
    const subscribed: number[] = []
    const unsubscribe = await counter.subscribe((value) => void subscribed.push(value))
    expect(await counter.add(5)).toBe(5)
    expect(await changed.promise).toBe(5)
    expect(subscribed).toEqual([5])
    // The owner calls the callback itself: it runs on A.
    const direct = deferred<number>()
    counter.onChange = (value) => direct.resolve(value)
    await counter.value // barrier: the assignment ran on B
    bApi.counter.onChange?.(42)
    expect(await direct.promise).toBe(42)
    await unsubscribe()
    await counter.add(1)
    expect(subscribed).toEqual([5])
    // B calls back into A with a callback of its own, which A invokes.
    a.expose('caller', {
      run: async (callback: (n: number) => Promise<number>) => (await callback(20)) + 1,
    })
    const caller = link(b, a).resolve<{ run(cb: (n: number) => number): number }>('caller')
    expect(await caller.run((n) => n * 3)).toBe(61)
  })

  it('by-reference objects; a stub going home arrives as the original', async () => {
    const { api: ownApi, target } = makeApi()
    b.expose('own', ownApi)
    const api = link(a, b).resolve<Api>('own')
    const point = await api.makeTarget()
    expect(isStub(point)).toBe(true)
    expect(await point.norm()).toBe(5)
    await set(point.x, 6)
    expect(target.x).toBe(6)
    const marked = await api.makeMarked()
    expect(await marked.hello()).toBe('marked')
    expect(await api.isOriginal(point)).toBe(true)
    expect(await api.isOriginal({ x: 6, y: 4 })).toBe(false)
    b.unexpose('own')
  })

  it('three peers: a stub received from B handed to C is routed through the middle', async () => {
    const counter = new Counter()
    a.expose('counter', counter)
    a.expose('check', { isMine: (value: unknown) => value === counter })
    const aCounter = link(b, a).resolve<Counter>('counter')
    const aCheck = link(b, a).resolve<{ isMine(value: unknown): boolean }>('check')
    b.expose('middle', {
      counter: () => aCounter,
      // Awaits A's `isMine` (a path is thenable): B gets a stub of that function, and so will C.
      checker: () => aCheck.isMine,
      check: (value: unknown) => aCheck.isMine(value),
    })
    const middle = link(c, b).resolve<{
      counter(): Remote<Counter>
      checker(): (value: unknown) => boolean
      check(value: unknown): boolean
    }>('middle')
    const routed = await middle.counter()
    expect(isStub(routed)).toBe(true)
    expect(await routed.add(7)).toBe(7)
    expect(counter.value).toBe(7)
    const seen = deferred<number>()
    routed.onChange = (value) => seen.resolve(value)
    await routed.value // barrier: the assignment went through B to A
    counter.add(1)
    expect(await seen.promise).toBe(8)
    // C's stub goes back to B (as B's stub of A's object), and on to A as the original.
    expect(await middle.check(routed)).toBe(true)
    // An awaitable write on the routed stub resolves with A's answer, through B: A has applied it.
    await set(routed.value, 20)
    expect(counter.value).toBe(20)
    const isMine = await middle.checker()
    expect(typeof isMine).toBe('function') // callable, two hops from its owner
    expect(await isMine({})).toBe(false)
    a.unexpose('counter')
    a.unexpose('check')
  })

  it('pipelining: three dependent calls are sent back to back and cost one round trip', async () => {
    b.expose('chain', {
      user: (id: number) => ({ profile: () => ({ name: () => `user ${id}` }) }),
    })
    const toB = link(a, b)
    const chain = toB.resolve<{ user(id: number): { profile(): { name(): string } } }>('chain')
    await toB.list() // the resolve went out; the log starts clean
    const sent: string[] = []
    const received: string[] = []
    const original = toB.wire.sendMessage.bind(toB.wire)
    toB.wire.sendMessage = (channel, bytes, options) => {
      if (channel === RPC && bytes instanceof Uint8Array) {
        for (const t of rpcTags(bytes)) sent.push(`${received.length}:${t}`)
      }
      return original(channel, bytes, options)
    }
    const off = toB.wire.on('message', (channel, bytes) => {
      if (channel === RPC) received.push(...rpcTags(bytes))
    })
    try {
      expect(await chain.user(1).profile().name()).toBe('user 1')
    } finally {
      off()
      toB.wire.sendMessage = original
    }
    // "n:tag": n is how many replies had arrived when the message was sent.
    expect(sent.slice(0, 4)).toEqual(['0:call', '0:call', '0:call', '0:pull'])
    expect(received).toEqual(['return'])
  })

  it('a leaving peer rejects pending calls with ERR_PEER_LEFT', async () => {
    const [x, y] = (await group(2)) as [Room, Room]
    const started = deferred()
    y.expose('slow', {
      never: () => {
        started.resolve()
        return new Promise(() => undefined)
      },
    })
    const toY = link(x, y)
    const slow = toY.resolve<{ never(): void }>('slow')
    const pending = failure(slow.never())
    await started.promise
    const left = waitForLeave(x, y.self)
    y.leave()
    expect(code(await pending)).toBe('ERR_PEER_LEFT')
    await left
    expect(code(await failure(slow.never()))).toBe('ERR_PEER_LEFT')
    // resolve() on the peer that left still returns at once; its first operation rejects.
    const late = toY.resolve<{ never(): void }>('slow')
    expect(code(await failure(late.never()))).toBe('ERR_PEER_LEFT')
  })

  it('per-call timeout and AbortSignal', async () => {
    const held: Array<() => void> = []
    b.expose('wait', { hold: () => new Promise<void>((resolve) => held.push(resolve)) })
    const wait = link(a, b).resolve<{ hold(): void }>('wait')
    const timedOut = await failure(withOptions(wait, { timeoutMs: 150 }).hold())
    expect(code(timedOut)).toBe('ERR_TIMEOUT')
    const controller = new AbortController()
    const aborting = failure(withOptions(wait, { signal: controller.signal }).hold())
    controller.abort(new Error('user gave up'))
    const aborted = await aborting
    expect(code(aborted)).toBe('ERR_ABORTED')
    expect((aborted as PeerjectError).cause).toEqual(new Error('user gave up'))
    expect(link(a, b).stats().rpc?.pendingCalls).toBe(0)
    for (const resolve of held) resolve()
  })
})

describe('references: defaults and authorization', () => {
  it('the default authorizer denies `_` names; built-ins of Object/Function are unreachable', async () => {
    const [x, y] = (await group(2)) as [Room, Room]
    y.expose('api', makeApi().api)
    const api = link(x, y).resolve<Api>('api')
    expect(code(await failure(api._secret))).toBe('ERR_DENIED')
    expect(code(await failure(member(api, 'echo', 'bind')()))).toBe('ERR_DENIED')
    expect(code(await failure(member(api, 'items', 'hasOwnProperty')()))).toBe('ERR_DENIED')
    expect(code(await failure(member(api, 'echo', 'toString')()))).toBe('ERR_DENIED')
    // Built-in methods of arrays, strings and maps: readable, never callable.
    expect(code(await failure(member(api, 'items', 'push')('d')))).toBe('ERR_DENIED')
    expect(code(await failure(member(api, 'title', 'repeat')(1e6)))).toBe('ERR_DENIED')
    expect(await api.items.length).toBe(3)
    expect(await api.echo('still fine')).toBe('still fine')
  })

  it('a custom async authorizer: denial only for that caller; forbidden names stay forbidden', async () => {
    let blocked = ''
    const seen: unknown[][] = []
    const [owner, allowed, denied] = (await group(3, (i) =>
      i === 0
        ? {
            authorize: async (peer, operation, path, origin) => {
              seen.push([peer, operation, path, origin])
              await Promise.resolve()
              return peer !== blocked
            },
          }
        : {},
    )) as [Room, Room, Room]
    blocked = denied.self
    owner.expose('api', makeApi().api)
    const mine = link(allowed, owner).resolve<Api>('api')
    const theirs = link(denied, owner).resolve<Api>('api')
    const [ok, refused] = await Promise.all([mine.echo(1), failure(theirs.echo(2))])
    expect(ok).toBe(1)
    expect(code(refused)).toBe('ERR_DENIED')
    expect(await link(denied, owner).list()).toEqual([])
    expect(await link(allowed, owner).list()).toEqual(['api'])
    expect(seen).toContainEqual([allowed.self, 'call', ['api', 'echo'], 'name'])
    // The custom authorizer replaces the `_` rule…
    expect(await mine._secret).toBe('hidden')
    // …but never opens these, whatever it returns.
    const loose = mine as unknown as Record<string, PromiseLike<unknown>>
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      expect(code(await failure(loose[name]!))).toBe('ERR_DENIED')
    }
    const polluter = mine.items as unknown as Record<string, Record<string, PromiseLike<unknown>>>
    expect(code(await failure(set(polluter.__proto__!.polluted!, 1)))).toBe('ERR_DENIED')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const point = await mine.makeTarget()
    expect(code(await failure(member(point, 'constructor')))).toBe('ERR_DENIED')
  })
})

describe('references: order with an async authorizer', () => {
  it('operations on a result issued before awaiting it apply before those issued after', async () => {
    const applied: number[] = []
    class Item extends RpcTarget {
      bump(n: number): void {
        applied.push(n)
      }
    }
    let slowOnce = true
    const [owner, user] = (await group(2, (i) =>
      i === 0
        ? {
            authorize: async (_peer, _operation, path) => {
              // The first screening of bump takes a few macrotasks; the others answer at once.
              if (path.at(-1) === 'bump' && slowOnce) {
                slowOnce = false
                for (let n = 0; n < 5; n++) await new Promise((resolve) => setImmediate(resolve))
              }
              return true
            },
          }
        : {},
    )) as [Room, Room]
    owner.expose('api', { make: () => new Item() })
    const api = link(user, owner).resolve<{ make(): Item }>('api')
    const item = api.make()
    void item.bump(1)
    const stub = await item
    await stub.bump(2)
    expect(applied).toEqual([1, 2])
  })
})

describe('references: composing with the default authorizer', () => {
  it('defaultAuthorizer inside a custom authorizer keeps the `_` rule (README example)', async () => {
    const [owner, user] = (await group(2, (i) =>
      i === 0
        ? {
            authorize: (peer, operation, path) =>
              defaultAuthorizer(peer, operation, path) &&
              (operation !== 'set' || path[1] === 'title'),
          }
        : {},
    )) as [Room, Room]
    const { api } = makeApi()
    owner.expose('api', api)
    const remote = link(user, owner).resolve<Api>('api')
    expect(code(await failure(remote._secret))).toBe('ERR_DENIED')
    expect(code(await failure(set(remote.extra, 'no')))).toBe('ERR_DENIED')
    await set(remote.title, 'renamed')
    expect(api.title).toBe('renamed')
    expect(api.extra).toBe('remove me')
  })
})

describe('references: errors', () => {
  class AppError extends Error {
    constructor(
      message: string,
      readonly status: number,
      options?: ErrorOptions,
    ) {
      super(message, options)
    }
  }
  Object.defineProperty(AppError.prototype, 'name', { value: 'AppError' })
  const registry = (): ClassRegistry => {
    const classes = new ClassRegistry()
    classes.register(AppError)
    return classes
  }
  const thrower = {
    typeError() {
      const error = new TypeError('bad input', { cause: new RangeError('too big') })
      Object.assign(error, { detail: { field: 'x' } })
      throw error
    },
    async appError() {
      await Promise.resolve()
      throw new AppError('teapot', 418, { cause: new Error('root cause') })
    },
    notAnError() {
      throw 'just a string'
    },
  }
  type Thrower = typeof thrower

  it('an argument of a class the callee did not register: the caller is told, no call hangs', async () => {
    class Gadget {
      size = 1
    }
    const classes = new ClassRegistry()
    classes.register(Gadget, { name: 'test.Gadget' })
    const [caller, callee] = (await group(2, (i) => (i === 0 ? { classes } : {}))) as [Room, Room]
    callee.expose('api', { take: () => 1, other: () => 2 })
    const api = link(caller, callee).resolve<{ take(g: Gadget): number; other(): number }>('api')
    const calleeError = new Promise<PeerjectError>((resolve) => callee.once('error', resolve))
    const taking = failure(api.take(new Gadget()))
    const other = failure(api.other())
    expect(code(await calleeError)).toBe('ERR_BAD_MESSAGE')
    for (const error of [await taking, await other]) {
      expect(code(error)).toBe('ERR_PEER_LEFT')
      // The callee's reason, from the ERROR frame that closed the connection.
      expect((error as Error).message).toContain('test.Gadget')
    }
  })

  it('remote throws keep class, message, cause chain and own properties; stacks only when asked', async () => {
    const [x, quiet, loud] = (await group(3, (i) => ({
      classes: registry(),
      includeStacks: i === 2,
    }))) as [Room, Room, Room]
    quiet.expose('thrower', thrower)
    loud.expose('thrower', thrower)
    const fromQuiet = link(x, quiet).resolve<Thrower>('thrower')
    const fromLoud = link(x, loud).resolve<Thrower>('thrower')

    const typeError = (await failure(fromQuiet.typeError())) as TypeError & { detail: unknown }
    expect(typeError).toBeInstanceOf(TypeError)
    expect(typeError.message).toBe('bad input')
    expect(typeError.detail).toEqual({ field: 'x' })
    expect(typeError.cause).toBeInstanceOf(RangeError)
    expect((typeError.cause as Error).message).toBe('too big')
    expect(typeError.stack).toBe('TypeError: bad input')

    const appError = (await failure(fromQuiet.appError())) as AppError
    expect(appError).toBeInstanceOf(AppError)
    expect(appError.name).toBe('AppError')
    expect(appError.status).toBe(418)
    expect((appError.cause as Error).message).toBe('root cause')

    const notAnError = await failure(fromQuiet.notAnError())
    expect(code(notAnError)).toBe('ERR_REMOTE')
    expect((notAnError as PeerjectError).cause).toBe('just a string')

    // A method the object does not have: coded, naming it.
    const missing = await failure(member(fromQuiet, 'noSuchMethod')())
    expect(code(missing)).toBe('ERR_NOT_FOUND')
    expect((missing as Error).message).toContain('noSuchMethod does not exist')

    const withStack = (await failure(fromLoud.typeError())) as Error
    expect(withStack).toBeInstanceOf(TypeError)
    expect(withStack.stack).toContain('typeError')
    expect(withStack.stack).toContain('references.test')
  })
})

describe('references: lifetime and quotas', () => {
  it('release, Symbol.dispose and `using` bring export counts back to zero', async () => {
    const [x, y] = (await group(2)) as [Room, Room]
    y.expose('factory', { make: (n: number) => new Point(n, n) })
    const toY = link(x, y)
    const factory = toY.resolve<{ make(n: number): Point }>('factory')
    const first = await factory.make(1)
    const second = await factory.make(2)
    {
      using third = await factory.make(3)
      expect(await third.x).toBe(3)
    }
    await toY.list() // barrier: everything x sent before has arrived
    expect(link(y, x).stats().rpc?.exports).toBe(3) // factory, first, second
    expect(toY.stats().rpc?.imports).toBe(3)
    release(first)
    second[Symbol.dispose]()
    expect(code(await failure(first.norm()))).toBe('ERR_CLOSED')
    release(factory)
    await toY.list()
    expect(link(y, x).stats().rpc).toMatchObject({ exports: 0, imports: 0, inFlight: 0 })
    expect(toY.stats().rpc).toMatchObject({ exports: 0, imports: 0, pendingCalls: 0 })
  })

  it('references in a reply that arrives after its timeout are given back at once, not at GC', async () => {
    const [x, y] = (await group(2)) as [Room, Room]
    const gate = deferred()
    const shared = (): string => 'shared'
    y.expose('api', {
      shared: () => shared,
      late: async () => {
        await gate.promise
        return { own: () => 'own', shared }
      },
    })
    const toY = link(x, y)
    const api = toY.resolve<{
      shared(): () => string
      late(): { own(): string; shared(): string }
    }>('api')
    const kept = await api.shared() // x holds `shared` from this earlier reply
    await toY.list() // barrier: everything x sent before has arrived
    const before = link(y, x).stats().rpc?.exports // the name, and `shared`
    expect(code(await failure(withOptions(api, { timeoutMs: 100 }).late()))).toBe('ERR_TIMEOUT')
    // The reply y sends once the gate opens reaches x after the call gave up on it.
    const arrived = new Promise<void>((resolve) => {
      const off = toY.wire.on('message', (channel) => {
        if (channel !== RPC) return
        off()
        resolve()
      })
    })
    gate.resolve()
    await arrived
    await toY.list() // x's releases of what the late reply brought leave before this request
    expect(link(y, x).stats().rpc?.exports).toBe(before)
    expect(await kept()).toBe('shared') // the stub x kept still works
  })

  it('calls beyond maxCallsInFlight reject ERR_QUOTA; counts return to zero', async () => {
    const [x, y] = (await group(2, (i) =>
      i === 1 ? { limits: { maxCallsInFlight: 2 } } : {},
    )) as [Room, Room]
    const gate = deferred<string>()
    y.expose('wait', { hold: () => gate.promise })
    const wait = link(x, y).resolve<{ hold(): string }>('wait')
    const calls = [wait.hold(), wait.hold(), wait.hold()].map((call) => Promise.resolve(call))
    const third = await failure(calls[2]!)
    expect(code(third)).toBe('ERR_QUOTA')
    expect(link(y, x).stats().rpc?.inFlight).toBe(2)
    gate.resolve('done')
    expect(await Promise.all(calls.slice(0, 2))).toEqual(['done', 'done'])
    release(wait)
    await link(x, y).list()
    expect(link(y, x).stats().rpc).toMatchObject({ exports: 0, imports: 0, inFlight: 0 })
  })

  it('a call over the callee’s maxMessageBytes rejects ERR_TOO_LARGE here; the session lives', async () => {
    const [x, y] = (await group(2, (i) =>
      i === 1 ? { limits: { maxMessageBytes: 64 * 1024 } } : {},
    )) as [Room, Room]
    y.expose('api', { size: (bytes: Uint8Array) => bytes.byteLength })
    const api = link(x, y).resolve<{ size(bytes: Uint8Array): number }>('api')
    const big = api.size(new Uint8Array(100 * 1024))
    const pipelined = api.size(big as never) // refers to a result that will never exist
    expect(code(await failure(big))).toBe('ERR_TOO_LARGE')
    expect(code(await failure(pipelined))).toBe('ERR_UNSERIALIZABLE')
    expect(await api.size(new Uint8Array(1024))).toBe(1024)
    expect(link(y, x).stats().rpc?.closed).toBe(false)
  })
})

describe('references: a hostile peer over real WebRTC', () => {
  /**
   * Raw access to `from`'s rpc channel to `to`: send hand-built messages, read the replies. The
   * replies reach only this channel, not `from`'s own rpc session, which never sent those
   * requests (and would rightly close the connection over replies to them): `from` plays a
   * hostile peer with no rpc session of its own.
   */
  function rawChannel(from: Room, to: Room) {
    const peer = link(from, to)
    const codec = new Codec()
    const replies = new Map<number, unknown[]>()
    const waiting = new Map<number, (reply: unknown[]) => void>()
    const wire = peer.wire as unknown as { emit(event: string, ...args: unknown[]): boolean }
    const emit = wire.emit.bind(wire)
    wire.emit = (event, ...args) => {
      if (event !== 'message' || args[0] !== RPC) return emit(event, ...args)
      const bytes = args[1] as Uint8Array
      const decoded = codec.decode(bytes, { export: () => null, import: (_kind, data) => data })
      // One rpc message, or a batch of them (docs/rpc.md, "Batching").
      const messages = (Array.isArray((decoded as unknown[])[0]) ? decoded : [decoded]) as Array<
        unknown[]
      >
      for (const reply of messages) {
        const id = reply[1] as number
        replies.set(id, reply)
        waiting.get(id)?.(reply)
      }
      return true
    }
    return {
      send: (message: readonly unknown[], hooks?: Parameters<Codec['encode']>[1]) =>
        peer.wire.sendMessage(RPC, codec.encode(message, hooks)),
      sendBytes: (bytes: Uint8Array) => peer.wire.sendMessage(RPC, bytes),
      reply: (id: number): Promise<unknown[]> => {
        const known = replies.get(id)
        if (known !== undefined) return Promise.resolve(known)
        return new Promise((resolve) => waiting.set(id, resolve))
      },
    }
  }
  const replyCode = (reply: unknown[]): string | undefined =>
    reply[0] === 'throw' ? code(reply[2]) : undefined

  it('unknown ids, a call flood beyond quota and violations give coded errors; tables drain', async () => {
    const [victim, hostile] = (await group(2, (i) =>
      i === 0 ? { limits: { maxCallsInFlight: 3 } } : {},
    )) as [Room, Room]
    const gate = deferred<number>()
    victim.expose('api', { hang: () => gate.promise, echo: (value: unknown) => value })
    const errors: PeerjectError[] = []
    victim.on('error', (error) => errors.push(error))
    const raw = rawChannel(hostile, victim)
    const victimStats = () => link(victim, hostile).stats().rpc

    await raw.send(['get', 1, 999, ['x']])
    expect(replyCode(await raw.reply(1))).toBe('ERR_NOT_FOUND')
    await raw.send(['call', 2, 999, ['f'], []])
    await raw.send(['pull', 2])
    expect(replyCode(await raw.reply(2))).toBe('ERR_NOT_FOUND')

    await raw.send(['resolve', 3, 'api'])
    for (let id = 4; id <= 8; id++) await raw.send(['call', id, 3, ['hang'], []])
    for (let id = 4; id <= 8; id++) await raw.send(['pull', id])
    expect(replyCode(await raw.reply(7))).toBe('ERR_QUOTA')
    expect(replyCode(await raw.reply(8))).toBe('ERR_QUOTA')
    expect(victimStats()?.inFlight).toBe(3)
    gate.resolve(5)
    for (let id = 4; id <= 6; id++) expect(await raw.reply(id)).toEqual(['return', id, 5])
    for (const id of [2, 3, 4, 5, 6, 7, 8]) await raw.send(['release', id, 1])
    await raw.send(['list', 9])
    expect(await raw.reply(9)).toEqual(['return', 9, ['api']])
    expect(victimStats()).toMatchObject({ exports: 0, imports: 0, inFlight: 0, closed: false })
    expect(errors).toEqual([])

    // A repeated id is a violation: reported once; the session and that peer's connection close.
    const toHostile = link(victim, hostile)
    const reported = new Promise<PeerjectError>((resolve) => victim.once('error', resolve))
    const hostileLeft = new Promise<unknown>((resolve) =>
      hostile.once('leave', (_peer, reason) => resolve(reason)),
    )
    await raw.send(['get', 9, 3, ['echo']])
    expect(code(await reported)).toBe('ERR_BAD_MESSAGE')
    expect(toHostile.stats().rpc).toMatchObject({
      exports: 0,
      imports: 0,
      inFlight: 0,
      closed: true,
    })
    // The peer's side closes too, told why, instead of waiting for answers forever.
    expect(code(await hostileLeft)).toBe('ERR_BAD_MESSAGE')
    expect(toHostile.state).toBe('closed')
  })

  it('answers hold their slots until handed to the channel: a get flood of 1 MiB values is refused beyond the quota', async () => {
    const [victim, hostile] = (await group(2, (i) =>
      i === 0 ? { limits: { maxCallsInFlight: 4 } } : {},
    )) as [Room, Room]
    const blob = new Uint8Array(1024 * 1024).fill(7)
    victim.expose('api', { blob })
    const raw = rawChannel(hostile, victim)
    const ids = Array.from({ length: 20 }, (_, i) => 2 + i)
    // Issued in one turn: they travel together and are handled in one go.
    await Promise.all([
      raw.send(['resolve', 1, 'api']),
      ...ids.map((id) => raw.send(['get', id, 1, ['blob']])),
    ])
    const replies = await Promise.all(ids.map((id) => raw.reply(id)))
    const answered = replies.filter((reply) => reply[0] === 'return')
    const refused = replies.filter((reply) => reply[0] === 'throw')
    // Freed as soon as computed, every slot was free again at the next get: all 20 answered.
    expect(refused.length).toBeGreaterThan(0)
    for (const reply of refused) expect(replyCode(reply)).toBe('ERR_QUOTA')
    for (const reply of answered) expect(reply[2]).toEqual(blob)
    expect(answered.length).toBeGreaterThanOrEqual(4)
    expect(link(victim, hostile).stats().rpc).toMatchObject({ inFlight: 0, closed: false })
  })

  it('forged releases, forged references, malformed and undecodable messages close that connection only', async () => {
    const [victim, friend] = (await group(2)) as [Room, Room]
    victim.expose('api', { echo: (value: unknown) => value })
    const friendly = link(friend, victim).resolve<{ echo(value: unknown): unknown }>('api')
    const forgedRef = { export: () => ['o', 999], import: () => undefined }
    const cases: Array<[string, (raw: ReturnType<typeof rawChannel>) => Promise<void>]> = [
      ['forged release', (raw) => raw.send(['release', -77, 1])],
      [
        'over-release',
        async (raw) => {
          await raw.send(['resolve', 1, 'api'])
          await raw.send(['release', 1, 2])
        },
      ],
      [
        'forged reference',
        async (raw) => {
          await raw.send(['resolve', 1, 'api'])
          await raw.send(['call', 2, 1, ['echo'], [() => undefined]], forgedRef)
        },
      ],
      [
        'an answer pulled twice',
        async (raw) => {
          await raw.send(['resolve', 1, 'api'])
          await raw.send(['call', 2, 1, ['echo'], [1]])
          await raw.send(['pull', 2])
          await raw.reply(2)
          await raw.send(['pull', 2])
        },
      ],
      ['malformed message', (raw) => raw.send(['call', 'one', { not: 'a path' }])],
      ['undecodable bytes', (raw) => raw.sendBytes(Uint8Array.of(0xc1, 0xc1, 0xc1))],
    ]
    for (const [name, attack] of cases) {
      const [hostile] = (await group(1, () => ({}), [victim, friend])) as [Room]
      const toHostile = link(victim, hostile)
      const reported = new Promise<PeerjectError>((resolve) => victim.once('error', resolve))
      const left = waitForLeave(victim, hostile.self)
      await attack(rawChannel(hostile, victim))
      expect(code(await reported), name).toBe('ERR_BAD_MESSAGE')
      expect(toHostile.stats().rpc, name).toMatchObject({
        exports: 0,
        imports: 0,
        inFlight: 0,
        pendingCalls: 0,
        closed: true,
      })
      // That peer's connection closes; every other peer's session stays up.
      await left
      expect(toHostile.state, name).toBe('closed')
      expect(await friendly.echo(name)).toBe(name)
      hostile.leave()
    }
  })
})
