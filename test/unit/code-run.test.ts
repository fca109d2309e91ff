/**
 * Code objects end to end in Node: two CodeServices whose sessions are connected back to back in
 * memory (each send calls the other side's dispatch asynchronously), running real worker threads.
 */
import { afterEach, describe, expect, test } from 'vitest'

import { Codec } from '../../src/codec/index.js'
import {
  CodeService,
  codeIdOf,
  createMemoryStore,
  exportPublicKey,
  generateSigningKey,
  type CodePeerSession,
  type CodeServiceOptions,
  type CodeStore,
  type RunningCode,
} from '../../src/code/index.js'
import { NodeWorkerHost } from '../../src/code/node.js'
import { PeerjectError } from '../../src/errors.js'
import type { PeerId } from '../../src/ids.js'

const host = new NodeWorkerHost()
const running: Array<{ dispose(): void }> = []

afterEach(() => {
  for (const code of running.splice(0)) code.dispose()
})

function service(options: Partial<CodeServiceOptions> = {}): CodeService {
  return new CodeService({ codec: new Codec(), host, ...options })
}

/** Sessions A→B and B→A over an in-memory, asynchronous link. */
function connect(
  a: CodeService,
  b: CodeService,
): { fromA: CodePeerSession; fromB: CodePeerSession } {
  const link = {
    a: undefined as CodePeerSession | undefined,
    b: undefined as CodePeerSession | undefined,
  }
  const fromA = a.session('peer-b' as PeerId, async (bytes) => {
    const copy = bytes.slice()
    queueMicrotask(() => link.b?.dispatch(copy))
  })
  const fromB = b.session('peer-a' as PeerId, async (bytes) => {
    const copy = bytes.slice()
    queueMicrotask(() => link.a?.dispatch(copy))
  })
  link.a = fromA
  link.b = fromB
  return { fromA, fromB }
}

async function runFrom<T>(
  session: CodePeerSession,
  id: string,
  options = {},
): Promise<RunningCode<T>> {
  const code = await session.run<T>(id, options)
  running.push(code)
  return code
}

const DEP = 'export function double(x) { return x * 2 }\nexport const unit = "dep"'
const main = (depId: string): string =>
  `import { double } from 'peerject:${depId}'\nexport function quad(x) { return double(double(x)) }\nexport const label = 'main'`

interface Quad {
  quad(x: number): number
  label: string
}

describe('publish, fetch, run', () => {
  test('B runs a module A published, with its dependency, and calls its exports', async () => {
    const a = service()
    const b = service()
    const depId = await a.publish(DEP, { name: 'dep', version: '1.0.0' })
    const id = await a.publish(main(depId), { name: 'main', description: 'quadruples' })
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    const { fromB } = connect(a, b)

    const listed = await fromB.list()
    expect(listed.map((m) => m.name).sort()).toEqual(['dep', 'main'])
    expect(listed.find((m) => m.id === id)).toMatchObject({
      dependencies: [depId],
      description: 'quadruples',
    })

    const mod = await runFrom<Quad>(fromB, id)
    expect(await mod.quad(3)).toBe(12)
    expect(await mod.label).toBe('main')
    // Fetched objects are cached in B's store, so B can run them without A.
    expect(await b.store.getObject(depId)).toBe(DEP)
    expect((await b.store.getMetadata(id))?.name).toBe('main')
    const again = await b.run<Quad>(id)
    running.push(again)
    expect(await again.quad(1)).toBe(4)
    // A name the module does not export: a coded error naming what it does export.
    const missing = (again as unknown as Record<string, () => Promise<unknown>>).nope!
    for (const attempt of [missing(), missing as unknown as Promise<unknown>]) {
      const error = await Promise.resolve(attempt).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ code: 'ERR_NOT_FOUND' })
      expect((error as Error).message).toContain('has no export "nope"; its exports: ')
    }
  })

  test('timeouts beyond what a timer holds, or Infinity, mean none (they used to fire at once)', async () => {
    const a = service()
    const b = service({ limits: { requestTimeoutMs: Number.POSITIVE_INFINITY } })
    const id = await a.publish(DEP)
    const { fromB } = connect(a, b)
    for (const timeoutMs of [Number.POSITIVE_INFINITY, 3e9]) {
      const mod = await runFrom<{ double(x: number): number }>(fromB, id, { timeoutMs })
      expect(await mod.double(21)).toBe(42)
    }
  })

  test('the id is the SHA-256 of the source; publish rejects dependencies that do not match the source', async () => {
    const a = service()
    const id = await a.publish('export default 1')
    const digest = await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode('export default 1'),
    )
    expect(id).toBe(Buffer.from(digest).toString('hex'))
    const depId = await a.publish(DEP)
    await expect(a.publish(main(depId), { dependencies: [] })).rejects.toMatchObject({
      code: 'ERR_BAD_MESSAGE',
    })
    await expect(a.publish(main(depId), { dependencies: [depId] })).resolves.toMatch(
      /^[0-9a-f]{64}$/,
    )
  })

  test('remove() takes an object out of the store and out of what peers can fetch', async () => {
    const a = service()
    const b = service()
    const id = await a.publish(DEP)
    await a.remove(id)
    expect(await a.list()).toEqual([])
    const { fromB } = connect(a, b)
    await expect(fromB.fetch(id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })

  test('after the serving peer left, what was fetched still runs from the store; the rest is ERR_PEER_LEFT', async () => {
    const a = service()
    const b = service()
    const cached = await a.publish(DEP)
    const never = await a.publish('export const other = 2')
    const { fromB } = connect(a, b)
    await fromB.fetch(cached)
    fromB.close(new PeerjectError('ERR_PEER_LEFT', 'peer-a left'))
    await expect(fromB.fetch(cached)).resolves.toMatchObject({ id: cached })
    await expect(fromB.fetch(never)).rejects.toMatchObject({ code: 'ERR_PEER_LEFT' })
    await expect(fromB.list()).rejects.toMatchObject({ code: 'ERR_PEER_LEFT' })
  })

  test('tampered bytes from the serving peer reject ERR_INTEGRITY and are not cached', async () => {
    const honest = createMemoryStore()
    const tampering: CodeStore = {
      ...honest,
      getObject: (id) => honest.getObject(id)?.replace('x * 2', 'x * 3'),
    }
    const a = service({ store: tampering })
    const b = service()
    const id = await a.publish(DEP)
    const { fromB } = connect(a, b)
    await expect(fromB.fetch(id)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(await b.store.getObject(id)).toBeUndefined()
  })

  test('a wrong token is refused with ERR_DENIED; list shows only what the token may fetch', async () => {
    const calls: Array<[unknown, string, string]> = []
    const a = service({
      verifyToken: async (token, id, peer) => {
        calls.push([token, id, peer])
        return token === 'secret'
      },
    })
    const b = service()
    const id = await a.publish(DEP)
    const { fromB } = connect(a, b)
    await expect(fromB.fetch(id, { token: 'wrong' })).rejects.toMatchObject({ code: 'ERR_DENIED' })
    expect(await fromB.list({ token: 'wrong' })).toEqual([])
    expect(calls[0]).toEqual(['wrong', id, 'peer-b'])
    const fetched = await fromB.fetch(id, { token: 'secret' })
    expect(fetched.modules.map((m) => m.source)).toEqual([DEP])
    expect((await fromB.list({ token: 'secret' })).map((m) => m.id)).toEqual([id])
  })

  test('a missing dependency rejects ERR_NOT_FOUND naming the chain and the peer', async () => {
    const a = service()
    const b = service()
    const leafId = await codeIdOf('export const leaf = 1') // published nowhere
    const middleId = await a.publish(`export { leaf } from 'peerject:${leafId}'`)
    const rootId = await a.publish(`export * from 'peerject:${middleId}'`)
    const { fromB } = connect(a, b)
    const error = await fromB.fetch(rootId).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PeerjectError)
    expect(error).toMatchObject({ code: 'ERR_NOT_FOUND' })
    const message = (error as Error).message
    expect(message).toContain(
      `code object ${leafId.slice(0, 8)}… (needed by ${rootId.slice(0, 8)}… → ${middleId.slice(0, 8)}…) not found on peer peer-a`,
    )
  })

  test('a custom store: its hooks are called as documented', async () => {
    const calls: string[] = []
    const inner = createMemoryStore()
    const recording: CodeStore = {
      getObject: async (id) => (calls.push(`getObject ${id.slice(0, 4)}`), inner.getObject(id)),
      getMetadata: (id) => (calls.push(`getMetadata ${id.slice(0, 4)}`), inner.getMetadata(id)),
      registerObject: async (id, source) => (
        calls.push(`registerObject ${id.slice(0, 4)}`),
        inner.registerObject(id, source)
      ),
      registerMetadata: (id, metadata) => (
        calls.push(`registerMetadata ${id.slice(0, 4)}`),
        inner.registerMetadata(id, metadata)
      ),
      removeObject: (id) => (calls.push(`removeObject ${id.slice(0, 4)}`), inner.removeObject(id)),
    }
    const a = service()
    const b = service({ store: recording })
    const id = await a.publish(DEP)
    const short = id.slice(0, 4)
    const { fromB } = connect(a, b)
    await fromB.fetch(id)
    expect(calls).toEqual([
      `getObject ${short}`,
      `registerObject ${short}`,
      `registerMetadata ${short}`,
    ])
    calls.length = 0
    await fromB.fetch(id) // now local: read, verified, not fetched again
    expect(calls).toEqual([`getObject ${short}`, `getMetadata ${short}`])
    calls.length = 0
    // Without listMetadata the registry view is what this service cached or published.
    expect((await b.list()).map((m) => m.id)).toEqual([id])
    await b.remove(id)
    expect(calls).toEqual([`removeObject ${short}`])
  })
})

describe('signatures', () => {
  test('trusted signer accepted; untrusted, unsigned or forged rejected ERR_SIGNATURE', async () => {
    const publisherKey = await generateSigningKey()
    const otherKey = await generateSigningKey()
    const a = service({ signingKey: publisherKey })
    const id = await a.publish(DEP)
    const [signature] = (await a.store.getMetadata(id))?.signatures ?? []
    expect(signature?.publicKey).toBe(await exportPublicKey(publisherKey.publicKey))

    const trusting = service({ trustedKeys: [publisherKey.publicKey] })
    await expect(connect(a, trusting).fromB.fetch(id)).resolves.toMatchObject({ id })

    const trustingOther = service({ trustedKeys: [await exportPublicKey(otherKey.publicKey)] })
    await expect(connect(a, trustingOther).fromB.fetch(id)).rejects.toMatchObject({
      code: 'ERR_SIGNATURE',
    })
    expect(await trustingOther.store.getObject(id)).toBeUndefined()

    // Anything but an array of public keys is a TypeError, never "trust everything" (an empty
    // list's meaning): a lone key, a Set, a private key.
    expect(() => service({ trustedKeys: publisherKey.publicKey as never })).toThrow(
      /code\.trustedKeys must be an array of public keys .*, got a CryptoKey/,
    )
    expect(() => service({ trustedKeys: new Set([publisherKey.publicKey]) as never })).toThrow(
      /got a Set/,
    )
    expect(() => service({ trustedKeys: [publisherKey.privateKey] })).toThrow(
      /code\.trustedKeys\[0\] is a private key/,
    )
    await expect(
      connect(a, service()).fromB.fetch(id, { trustedKeys: publisherKey.publicKey as never }),
    ).rejects.toThrow(/trustedKeys must be an array/)

    const unsigned = service()
    const unsignedId = await unsigned.publish('export const x = 1')
    await expect(
      connect(unsigned, service({ trustedKeys: [publisherKey.publicKey] })).fromB.fetch(unsignedId),
    ).rejects.toMatchObject({ code: 'ERR_SIGNATURE' })

    // A signature copied onto another object does not verify.
    const forgedStore = createMemoryStore()
    const forger = service({ store: forgedStore })
    const forgedId = await forger.publish('export const evil = 1')
    const forgedMeta = forgedStore.getMetadata(forgedId)
    forgedStore.registerMetadata(forgedId, { ...forgedMeta!, signatures: [signature!] })
    await expect(
      connect(forger, service({ trustedKeys: [publisherKey.publicKey] })).fromB.fetch(forgedId),
    ).rejects.toMatchObject({ code: 'ERR_SIGNATURE' })
  })
})
