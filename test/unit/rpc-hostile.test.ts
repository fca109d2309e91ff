/** A hostile peer feeding hand-built messages to one session. */
import { afterEach, describe, expect, test, vi } from 'vitest'
import { Codec } from '../../src/codec/index.js'
import type { PeerjectError } from '../../src/errors.js'
import { ExportRegistry, RpcSession, type RpcLimits } from '../../src/rpc/index.js'

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort()
afterEach(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames)
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
})

/**
 * A session under attack: `feed` hand-builds messages, `sent` decodes what it answered. With
 * `stalled`, the channel takes nothing: every `send` waits until `drain()`.
 */
function victim(limits?: Partial<RpcLimits>, stalled = false) {
  const codec = new Codec()
  const exports = new ExportRegistry()
  const errors: PeerjectError[] = []
  const sent: unknown[] = []
  const stalledSends: Array<() => void> = []
  const session = new RpcSession({
    peer: 'evil',
    codec,
    exports,
    send: async (bytes) => {
      sent.push(
        codec.decode(bytes, { export: () => undefined, import: (_k, data) => ({ ref: data }) }),
      )
      if (stalled) await new Promise<void>((resolve) => stalledSends.push(resolve))
    },
    onError: (error) => errors.push(error),
    ...(limits === undefined ? {} : { limits }),
  })
  /** Encodes `message`; functions inside it become `refs` (raw hook data, forged at will). */
  const feed = (message: unknown, refs: unknown[] = []): void => {
    let next = 0
    session.dispatch(codec.encode(message, { export: () => refs[next++], import: () => undefined }))
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0))
  const drain = () => stalledSends.splice(0).forEach((resolve) => resolve())
  return { session, exports, errors, sent, feed, tick, drain }
}

describe('coded failures that leave the session open', () => {
  test('operations on unknown ids reject ERR_NOT_FOUND', async () => {
    const v = victim()
    v.feed(['call', 1, 999, ['x'], []])
    v.feed(['pull', 1])
    v.feed(['get', 2, -5, ['x']])
    v.feed(['pull', 77])
    await v.tick()
    expect(v.sent).toMatchObject([
      ['throw', 1, { code: 'ERR_NOT_FOUND' }],
      ['throw', 2, { code: 'ERR_NOT_FOUND' }],
      ['throw', 77, { code: 'ERR_NOT_FOUND' }],
    ])
    expect(v.session.stats()).toMatchObject({ closed: false })
    expect(v.errors).toEqual([])
  })

  test('a batch is handled message by message, in order', async () => {
    const v = victim()
    v.exports.expose('obj', { f: (x: number) => x + 1 })
    v.feed([
      ['resolve', 1, 'obj'],
      ['call', 2, 1, ['f'], [1]],
      ['pull', 2],
      ['get', 3, 1, ['__proto__']],
    ])
    await v.tick()
    expect(v.sent).toMatchObject([
      ['return', 2, 2],
      ['throw', 3, { code: 'ERR_DENIED' }],
    ])
    expect(v.errors).toEqual([])
  })

  test('prototype pollution attempts are denied before anything is walked', async () => {
    const v = victim()
    v.exports.expose('obj', { a: {} })
    v.feed(['resolve', 1, 'obj'])
    v.feed(['set', 2, 1, ['__proto__', 'polluted'], true])
    v.feed(['set', 3, 1, ['a', 'constructor', 'prototype', 'polluted'], true])
    v.feed(['set', 4, 1, ['a', '__proto__'], { polluted: true }])
    v.feed(['get', 5, 1, ['a', 'toString']])
    v.feed(['set', 6, 1, ['a', 'hasOwnProperty'], 1])
    v.feed(['get', 7, 1, []]) // a reference is never read by value
    v.feed(['resolve', 8, '__proto__'])
    v.feed(['call', 9, 8, ['x'], []])
    v.feed(['pull', 9])
    await v.tick()
    expect(v.sent).toHaveLength(7)
    for (const reply of v.sent)
      expect(reply).toMatchObject(['throw', expect.any(Number), { code: 'ERR_DENIED' }])
  })

  test('a flood of calls beyond the quota is refused; releases bring the tables back to zero', async () => {
    const v = victim({ maxCallsInFlight: 10, maxExports: 30 })
    v.exports.expose('api', { hang: () => new Promise(() => undefined), echo: (x: number) => x })
    v.feed(['resolve', 1, 'api'])
    for (let id = 2; id < 42; id++) v.feed(['call', id, 1, ['hang'], []])
    await v.tick()
    expect(v.session.stats()).toMatchObject({ inFlight: 10, exports: 30 })
    // Beyond maxExports results are dropped at once with ERR_QUOTA.
    expect(v.sent).toHaveLength(11)
    for (const reply of v.sent)
      expect(reply).toMatchObject(['throw', expect.any(Number), { code: 'ERR_QUOTA' }])
    v.sent.length = 0
    for (let id = 2; id < 31; id++) v.feed(['pull', id])
    await v.tick()
    expect(v.sent).toHaveLength(19) // the 19 refused calls; 10 still run
    for (let id = 1; id < 42; id++) v.feed(['release', id, 1])
    expect(v.session.stats()).toMatchObject({ exports: 0, imports: 0, closed: false })
    v.session.close(new (await import('../../src/errors.js')).PeerjectError('ERR_PEER_LEFT', 'bye'))
    expect(v.session.stats()).toMatchObject({
      exports: 0,
      imports: 0,
      inFlight: 0,
      pendingCalls: 0,
    })
  })
})

describe('protocol violations close the session alone', () => {
  const cases: Array<[string, (v: ReturnType<typeof victim>) => void]> = [
    ['undecodable bytes', (v) => v.session.dispatch(new Uint8Array([0xff, 0x00, 0x13, 0x37]))],
    ['not a message', (v) => v.feed({ call: 1 })],
    ['unknown message', (v) => v.feed(['explode', 1])],
    ['a bad id', (v) => v.feed(['call', 1.5, 1, [], []])],
    ['a bad path', (v) => v.feed(['get', 1, 1, [{}]])],
    [
      'a batch with a malformed message',
      (v) =>
        v.feed([
          ['list', 1],
          ['explode', 2],
        ]),
    ],
    ['a batch of batches', (v) => v.feed([[['list', 1]], [['list', 2]]])],
    ['an empty message in a batch', (v) => v.feed([[], ['list', 1]])],
    ['a path too long', (v) => v.feed(['get', 1, 1, new Array(100).fill('a')])],
    ['ids that do not increase', (v) => (v.feed(['list', 5]), v.feed(['list', 5]))],
    [
      'an answer pulled twice',
      (v) => (
        v.feed(['resolve', 1, 'obj']),
        v.feed(['call', 2, 1, ['f'], []]),
        v.feed(['pull', 2]),
        v.feed(['pull', 2])
      ),
    ],
    ['a reply to nothing', (v) => v.feed(['return', 3, null])],
    ['a release of an id never sent', (v) => v.feed(['release', -4, 1])],
    ['an over-release', (v) => (v.feed(['resolve', 1, 'obj']), v.feed(['release', 1, 2]))],
    ['a forged positive export ref', (v) => v.feed(['call', 1, 1, [], [() => 0]], [['e', 3]])],
    ['a forged own ref', (v) => v.feed(['call', 1, 1, [], [() => 0]], [['o', -9]])],
    ['a malformed ref', (v) => v.feed(['call', 1, 1, [], [() => 0]], [{ id: 1 }])],
    [
      'a stream without stream support',
      (v) => v.feed(['call', 1, 1, [], [new ReadableStream()]], [1]),
    ],
  ]
  test.each(cases)('%s', async (_name, attack) => {
    const v = victim()
    v.exports.expose('obj', { f: () => 1 })
    attack(v)
    await v.tick()
    expect(v.errors).toHaveLength(1)
    expect(v.errors[0]?.code).toBe('ERR_BAD_MESSAGE')
    expect(v.session.stats()).toMatchObject({ closed: true, exports: 0, imports: 0, inFlight: 0 })
  })

  test('references beyond maxImports close the session with ERR_QUOTA', async () => {
    const v = victim({ maxImports: 3 })
    const fns = [1, 2, 3, 4].map((n) => () => n)
    v.feed(
      ['call', 1, 1, [], fns],
      fns.map((_f, i) => ['e', -1 - i]),
    )
    await v.tick()
    expect(v.errors.map((e) => e.code)).toEqual(['ERR_QUOTA'])
    expect(v.session.stats()).toMatchObject({ closed: true, imports: 0 })
  })

  test('an onError handler that throws changes nothing: dispatch does not throw, the session closes', () => {
    // The handler's error is rethrown as uncaught, in a microtask: capture it instead.
    const rethrown: Array<() => void> = []
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      rethrown.push(task)
    })
    try {
      const session = new RpcSession({
        peer: 'evil',
        codec: new Codec(),
        exports: new ExportRegistry(),
        send: async () => undefined,
        onError: () => {
          throw new Error('handler bug')
        },
      })
      expect(() => session.dispatch(Uint8Array.of(0xc1, 0xc1))).not.toThrow()
      expect(session.closed).toMatchObject({ code: 'ERR_PEER_LEFT' })
      expect(() => rethrown.forEach((task) => task())).toThrow('handler bug')
    } finally {
      spy.mockRestore()
    }
  })

  test('after closing, further input is ignored', async () => {
    const v = victim()
    v.feed(['explode'])
    v.feed(['explode'])
    v.feed(['list', 1])
    await v.tick()
    expect(v.errors).toHaveLength(1)
    expect(v.sent).toEqual([])
  })
})

describe('answers waiting for the channel', () => {
  /** A batch of messages of one dispatch, as a peer sends them in one frame. */
  const batch = (v: ReturnType<typeof victim>, messages: unknown[][]) => v.feed(messages)
  const flat = (sent: unknown[]) =>
    sent.flatMap((m) =>
      Array.isArray((m as unknown[])[0]) ? (m as unknown[][]) : [m as unknown[]],
    )

  test('hold their in-flight slots until handed over: a get flood cannot queue answers', async () => {
    const v = victim({ maxCallsInFlight: 3 }, true)
    v.exports.expose('api', { blob: new Uint8Array(64 * 1024) })
    const gets = Array.from({ length: 10 }, (_, i) => ['get', 2 + i, 1, ['blob']])
    batch(v, [['resolve', 1, 'api'], ...gets])
    await v.tick()
    const replies = flat(v.sent)
    const answered = replies.filter((m) => m[0] === 'return')
    const refused = replies.filter((m) => m[0] === 'throw')
    expect(answered.map((m) => m[1])).toEqual([2, 3, 4])
    expect(refused.map((m) => m[1])).toEqual([5, 6, 7, 8, 9, 10, 11])
    for (const m of refused) expect(m[2]).toMatchObject({ code: 'ERR_QUOTA' })
    expect(v.session.stats().inFlight).toBe(3)
    v.drain()
    await v.tick()
    expect(v.session.stats().inFlight).toBe(0)
    // With the slots free, the next get is answered.
    v.feed(['get', 12, 1, ['blob']])
    await v.tick()
    expect(flat(v.sent).at(-1)?.slice(0, 2)).toEqual(['return', 12])
    v.drain()
  })

  test('are encoded only while less than the answer window (8 MiB) waits for the channel', async () => {
    const v = victim({}, true)
    const blob = new Uint8Array(1024 * 1024).fill(3)
    v.exports.expose('api', { blob })
    const ids = Array.from({ length: 12 }, (_, i) => 2 + i)
    batch(v, [['resolve', 1, 'api'], ...ids.map((id) => ['get', id, 1, ['blob']])])
    await v.tick()
    // Encoded and handed to the stalled channel: 8 MiB worth; the other 4 wait as values.
    expect(flat(v.sent).map((m) => m[1])).toEqual(ids.slice(0, 8))
    expect(v.session.stats()).toMatchObject({ inFlight: 12, queuedMessages: 12 })
    for (let round = 0; round < 3 && flat(v.sent).length < 12; round++) {
      v.drain()
      await v.tick()
    }
    expect(flat(v.sent).map((m) => m[1])).toEqual(ids)
    for (const m of flat(v.sent)) expect(m[2]).toEqual(blob)
    v.drain()
    await v.tick()
    expect(v.session.stats()).toMatchObject({ inFlight: 0, queuedMessages: 0 })
  })

  test('a pull of a settled result takes a slot too', async () => {
    const v = victim({ maxCallsInFlight: 2 }, true)
    v.exports.expose('api', { big: () => 'x'.repeat(1000) })
    batch(v, [
      ['resolve', 1, 'api'],
      ['call', 2, 1, ['big'], []],
      ['call', 3, 1, ['big'], []],
      ['call', 4, 1, ['big'], []],
    ])
    await v.tick()
    expect(v.session.stats().inFlight).toBe(0) // settled, nobody pulled: nothing to send
    batch(v, [
      ['pull', 2],
      ['pull', 3],
      ['pull', 4],
    ])
    await v.tick()
    const replies = flat(v.sent)
    expect(replies.map((m) => [m[0], m[1]])).toEqual([
      ['return', 2],
      ['return', 3],
      ['throw', 4],
    ])
    expect(replies[2]?.[2]).toMatchObject({ code: 'ERR_QUOTA' })
    expect(v.session.stats().inFlight).toBe(2)
    v.drain()
    await v.tick()
    expect(v.session.stats().inFlight).toBe(0)
  })

  test('every reference to a pending answer gets the same promise (one watcher per answer)', async () => {
    const v = victim()
    const kept: unknown[] = []
    let finish: (value: number) => void = () => undefined
    v.exports.expose('api', {
      slow: () => new Promise<number>((resolve) => (finish = resolve)),
      keep: (...values: unknown[]) => void kept.push(...values),
    })
    v.feed(['resolve', 1, 'api'])
    v.feed(['call', 2, 1, ['slow'], []])
    const refs = Array.from({ length: 50 }, () => ['o', 2])
    v.feed(['call', 3, 1, ['keep'], refs.map(() => () => 0)], refs)
    v.feed(['call', 4, 1, ['keep'], [() => 0]], [['o', 2]])
    await v.tick()
    expect(kept).toHaveLength(51)
    expect(new Set(kept).size).toBe(1)
    finish(7)
    expect(await kept[0]).toBe(7)
  })
})
