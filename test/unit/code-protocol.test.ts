/**
 * The code channel message by message: golden requests and answers, the guards, and a hostile peer
 * scripted by hand on either side of a session. No workers are started here.
 */
import { describe, expect, test } from 'vitest'

import { Codec } from '../../src/codec/index.js'
import {
  CodeService,
  codeIdOf,
  createMemoryStore,
  isCodeMetadata,
  isCodeRequest,
  isCodeResponse,
  type CodeLimits,
  type CodePeerSession,
  type CodeServiceOptions,
  type WorkerHost,
} from '../../src/code/index.js'
import { PeerjectError } from '../../src/errors.js'
import type { PeerId } from '../../src/ids.js'

const codec = new Codec()
const noWorkers: WorkerHost = {
  start: () => Promise.reject(new PeerjectError('ERR_CODE_LOAD', 'no workers in this test')),
}

/**
 * A session whose peer is this test: `next()` resolves with the next message the session sends,
 * delivered a macrotask after the send resolved (as over a network: the peer cannot have a message
 * before it was handed to the channel). With `handedOver`, each send resolves only once that
 * promise has; `attempted()` resolves with the next message given to send, handed over or not.
 */
function scripted(
  options: Partial<CodeServiceOptions> = {},
  limits?: CodeLimits,
  handedOver?: Promise<void>,
) {
  const service = new CodeService({
    codec,
    host: noWorkers,
    ...options,
    ...(limits === undefined ? {} : { limits }),
  })
  const inbox = mailbox()
  const attempts = mailbox()
  const session: CodePeerSession = service.session('peer-x' as PeerId, async (bytes) => {
    const message = codec.decode(bytes)
    attempts.put(message)
    await handedOver
    setImmediate(() => inbox.put(message))
  })
  const next = inbox.take
  const attempted = attempts.take
  const send = (message: unknown): void => session.dispatch(codec.encode(message))
  return { service, session, next, attempted, send, queued: inbox.queue }
}

/** Messages in arrival order: `take()` resolves with the next one. */
function mailbox(): { put(message: unknown): void; take(): Promise<unknown>; queue: unknown[] } {
  const queue: unknown[] = []
  const waiting: Array<(value: unknown) => void> = []
  return {
    queue,
    put(message) {
      const waiter = waiting.shift()
      if (waiter === undefined) queue.push(message)
      else waiter(message)
    },
    take: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve) => waiting.push(resolve)),
  }
}

const SOURCE = 'export const answer = 42'

describe('golden messages', () => {
  test('fetch sends get with a counter rid and the token; list sends list', async () => {
    const id = await codeIdOf(SOURCE)
    const { session, next, send } = scripted()
    const fetched = session.fetch(id, { token: { user: 'ada' } })
    expect(await next()).toEqual({ type: 'get', rid: 1, id, token: { user: 'ada' } })
    send({
      type: 'ok',
      rid: 1,
      value: { source: SOURCE, metadata: { id, name: 'answer', dependencies: [], size: 24 } },
    })
    const code = await fetched
    expect(code).toMatchObject({ id, metadata: { id, name: 'answer', dependencies: [], size: 24 } })
    expect(code.modules).toEqual([{ id, source: SOURCE, metadata: code.metadata }])

    const listed = session.list()
    expect(await next()).toEqual({ type: 'list', rid: 2 })
    send({ type: 'ok', rid: 2, value: { items: [code.metadata] } })
    expect(await listed).toEqual([code.metadata])
  })

  test('a served get and list answer with ok; the token check comes first', async () => {
    const seen: unknown[] = []
    const { service, next, send } = scripted({
      verifyToken: (token, id, peer) => {
        seen.push([token, id.slice(0, 4), peer])
        return token === 'ok'
      },
    })
    const id = await service.publish(SOURCE, { name: 'answer', version: '2.0.0' })
    send({ type: 'get', rid: 7, id, token: 'ok' })
    expect(await next()).toEqual({
      type: 'ok',
      rid: 7,
      value: {
        source: SOURCE,
        metadata: { id, name: 'answer', version: '2.0.0', dependencies: [], size: 24 },
      },
    })
    send({ type: 'get', rid: 8, id, token: 'bad' })
    expect(await next()).toMatchObject({ type: 'err', rid: 8, code: 'ERR_DENIED' })
    send({ type: 'list', rid: 9, token: 'ok' })
    expect(await next()).toMatchObject({ type: 'ok', rid: 9, value: { items: [{ id }] } })
    expect(seen).toEqual([
      ['ok', id.slice(0, 4), 'peer-x'],
      ['bad', id.slice(0, 4), 'peer-x'],
      ['ok', id.slice(0, 4), 'peer-x'],
    ])
  })
})

describe('guards', () => {
  test('requests, responses and metadata', () => {
    const id = 'a'.repeat(64)
    expect(isCodeRequest({ type: 'get', rid: 1, id })).toBe(true)
    expect(isCodeRequest({ type: 'list', rid: 1 })).toBe(true)
    expect(isCodeRequest({ type: 'get', rid: 0, id })).toBe(false)
    expect(isCodeRequest({ type: 'get', rid: 1.5, id })).toBe(false)
    expect(isCodeRequest({ type: 'get', rid: 1 })).toBe(false)
    expect(isCodeRequest([1, 2])).toBe(false)
    expect(isCodeResponse({ type: 'ok', rid: 1, value: null })).toBe(true)
    expect(isCodeResponse({ type: 'err', rid: 1, code: 'ERR_DENIED', message: 'no' })).toBe(true)
    expect(isCodeResponse({ type: 'err', rid: 1, code: 'ERR_MADE_UP', message: 'no' })).toBe(false)
    const metadata = { id, name: 'n', dependencies: [id], size: 1 }
    expect(isCodeMetadata(metadata)).toBe(true)
    expect(isCodeMetadata({ ...metadata, id: 'A'.repeat(64) })).toBe(false)
    expect(isCodeMetadata({ ...metadata, dependencies: ['../x'] })).toBe(false)
    expect(isCodeMetadata({ ...metadata, name: 'x'.repeat(257) })).toBe(false)
    expect(isCodeMetadata({ ...metadata, size: -1 })).toBe(false)
    expect(isCodeMetadata({ ...metadata, signatures: [{ publicKey: 1, signature: 'x' }] })).toBe(
      false,
    )
  })
})

describe('a hostile peer asking', () => {
  test('malformed requests get coded answers; garbage gets none; nothing throws', async () => {
    const { session, next, send, queued } = scripted()
    expect(() => session.dispatch(new Uint8Array([0xc1, 0xff, 0x00]))).not.toThrow()
    send({ type: 'get', rid: -1, id: 'x' }) // no usable rid: dropped
    send('just a string')
    send({ type: 'frobnicate', rid: 2 })
    expect(await next()).toMatchObject({ type: 'err', rid: 2, code: 'ERR_BAD_MESSAGE' })
    send({ type: 'get', rid: 3, id: '../../etc/passwd' })
    expect(await next()).toMatchObject({ type: 'err', rid: 3, code: 'ERR_BAD_MESSAGE' })
    send({ type: 'get', rid: 4, id: 'f'.repeat(64) })
    expect(await next()).toMatchObject({ type: 'err', rid: 4, code: 'ERR_NOT_FOUND' })
    expect(queued).toEqual([])
  })

  test('a failing store answers ERR_INTERNAL without details; a throwing verifyToken denies', async () => {
    const store = {
      ...createMemoryStore(),
      getObject: () => Promise.reject(new Error('disk on fire at /secret/path')),
    }
    const failing = scripted({ store })
    failing.send({ type: 'get', rid: 1, id: 'a'.repeat(64) })
    const answer = await failing.next()
    expect(answer).toMatchObject({ type: 'err', rid: 1, code: 'ERR_INTERNAL' })
    expect(JSON.stringify(answer)).not.toContain('/secret/path')

    const throwing = scripted({
      verifyToken: () => {
        throw new Error('verifier bug')
      },
    })
    throwing.send({ type: 'get', rid: 1, id: 'a'.repeat(64) })
    expect(await throwing.next()).toMatchObject({ type: 'err', rid: 1, code: 'ERR_DENIED' })
  })

  test('more than maxInFlight requests at once are answered ERR_QUOTA', async () => {
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const inner = createMemoryStore()
    const slow = { ...inner, getObject: async (id: string) => (await gate, inner.getObject(id)) }
    const { next, send } = scripted({ store: slow }, { maxInFlight: 2 })
    for (const rid of [1, 2, 3]) send({ type: 'get', rid, id: 'a'.repeat(64) })
    expect(await next()).toMatchObject({ type: 'err', rid: 3, code: 'ERR_QUOTA' })
    release()
    expect(await next()).toMatchObject({ type: 'err', rid: 1, code: 'ERR_NOT_FOUND' })
    expect(await next()).toMatchObject({ type: 'err', rid: 2, code: 'ERR_NOT_FOUND' })
  })

  test('a request holds its slot until its answer is handed to the channel', async () => {
    // Answers queued behind a slow channel are bounded by maxInFlight too: a peer asking for a
    // large object many times cannot make this side hold unbounded encoded answers.
    let handOver: () => void = () => undefined
    const handedOver = new Promise<void>((resolve) => (handOver = resolve))
    const { next, attempted, send } = scripted({}, { maxInFlight: 1 }, handedOver)
    send({ type: 'get', rid: 1, id: 'a'.repeat(64) })
    expect(await attempted()).toMatchObject({ type: 'err', rid: 1, code: 'ERR_NOT_FOUND' })
    send({ type: 'get', rid: 2, id: 'a'.repeat(64) })
    expect(await attempted()).toMatchObject({ type: 'err', rid: 2, code: 'ERR_QUOTA' })
    handOver()
    expect(await next()).toMatchObject({ rid: 1 }) // the peer has the first answer: slot free
    expect(await next()).toMatchObject({ rid: 2 })
    send({ type: 'get', rid: 3, id: 'a'.repeat(64) })
    expect(await next()).toMatchObject({ type: 'err', rid: 3, code: 'ERR_NOT_FOUND' })
  })

  test('a verifyToken that never settles is given up after requestTimeoutMs, freeing its slot', async () => {
    let calls = 0
    const { next, send } = scripted(
      {
        // The first check hangs for ever; later ones deny at once.
        verifyToken: () => (calls++ === 0 ? new Promise<boolean>(() => undefined) : false),
      },
      { maxInFlight: 1, requestTimeoutMs: 50 },
    )
    send({ type: 'get', rid: 1, id: 'a'.repeat(64) })
    expect(await next()).toMatchObject({ type: 'err', rid: 1, code: 'ERR_TIMEOUT' })
    // The slot is free again: this request is served, not refused ERR_QUOTA.
    send({ type: 'get', rid: 2, id: 'a'.repeat(64) })
    expect(await next()).toMatchObject({ type: 'err', rid: 2, code: 'ERR_DENIED' })
  })
})

describe('a hostile peer answering', () => {
  test('malformed answers reject ERR_BAD_MESSAGE; answers to unknown rids are ignored', async () => {
    const id = await codeIdOf(SOURCE)
    const { session, next, send } = scripted()
    const first = session.fetch(id)
    await next()
    send({ type: 'ok', rid: 99, value: {} }) // nobody asked
    send({ type: 'ok', rid: 1, value: { source: 42 } })
    await expect(first).rejects.toMatchObject({ code: 'ERR_BAD_MESSAGE' })
    const second = session.fetch(id)
    await next()
    send({ type: 'err', rid: 2, code: 'ERR_NOT_A_CODE', message: 'x' })
    await expect(second).rejects.toMatchObject({ code: 'ERR_BAD_MESSAGE' })
    const third = session.list()
    await next()
    send({ type: 'ok', rid: 3, value: { items: [{ id: 'nope' }] } })
    await expect(third).rejects.toMatchObject({ code: 'ERR_BAD_MESSAGE' })
  })

  test('a source over maxSourceBytes rejects ERR_TOO_LARGE', async () => {
    const big = `export const s = '${'x'.repeat(2000)}'`
    const id = await codeIdOf(big)
    const { session, next, send } = scripted({}, { maxSourceBytes: 1000 })
    const fetched = session.fetch(id)
    await next()
    send({
      type: 'ok',
      rid: 1,
      value: { source: big, metadata: { id, name: 'big', dependencies: [], size: 1 } },
    })
    await expect(fetched).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
  })

  test('no answer within requestTimeoutMs rejects ERR_TIMEOUT', async () => {
    const { session } = scripted({}, { requestTimeoutMs: 50 })
    await expect(session.list()).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
  })

  test('close() rejects what is pending with the reason, and what comes later', async () => {
    const { session, next } = scripted()
    const pending = session.list()
    await next()
    const left = new PeerjectError('ERR_PEER_LEFT', 'peer-x left the room')
    session.close(left)
    await expect(pending).rejects.toBe(left)
    await expect(session.fetch('a'.repeat(64))).rejects.toBe(left)
    await expect(session.list()).rejects.toBe(left)
  })

  test('a send that fails rejects the request with its error', async () => {
    const service = new CodeService({ codec, host: noWorkers })
    const broken = new PeerjectError('ERR_CLOSED', 'channel closed')
    const session = service.session('peer-y' as PeerId, () => Promise.reject(broken))
    await expect(session.list()).rejects.toBe(broken)
  })
})
