/**
 * Issue 5 (code objects) over real WebRTC: Node peers (node-datachannel) meet through the real
 * signaling server on port 0; one publishes ES modules, another lists, fetches and runs them in
 * worker threads. Covers dependencies by id, the registry view, integrity, tokens, timeouts,
 * isolation (network and built-ins), store hooks on both sides, capabilities and signatures.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import type { NodeJoinOptions } from '../../src/node.js'
import { createMemoryStore, exportPublicKey, generateSigningKey } from '../../src/index.js'
import type { CodeMetadata, CodeOptions, CodeStore, Peer, Room } from '../../src/index.js'
import type { SignalingServer } from '../../signaling/index.js'
import { startSignaling } from '../helpers/signaling.js'
import { waitForPeers } from '../helpers/events.js'
import { rejection } from '../helpers/rejection.js'

let server: SignalingServer
/** Counts every TCP connection and HTTP request a code object might make. */
let trap: { server: Server; url: string; hits: number }
const rooms: Room[] = []
const running: Array<{ dispose(): void }> = []

beforeAll(async () => {
  server = await startSignaling()
  const http = createServer((_request, response) => {
    trap.hits++
    response.setHeader('content-type', 'text/javascript')
    response.end('export default 1')
  })
  http.on('connection', () => trap.hits++)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  trap = { server: http, url: `http://127.0.0.1:${port}/`, hits: 0 }
})
afterAll(async () => {
  for (const code of running) code.dispose()
  for (const room of rooms) room.leave()
  await new Promise((resolve) => trap.server.close(resolve))
  await server.close()
})

/** Joins one peer per entry of `codeOptions` into a fresh room and waits for the full mesh. */
async function group(...codeOptions: CodeOptions[]): Promise<Room[]> {
  const name = `code-${crypto.randomUUID()}`
  const joined: Room[] = []
  for (const code of codeOptions) {
    const options: NodeJoinOptions = {
      signaling: server.url,
      room: name,
      code: { store: createMemoryStore(), ...code },
    }
    const room = await joinRoom(options)
    rooms.push(room)
    joined.push(room)
  }
  // A connection failure (ERR_CONNECT) fails the test at once instead of timing it out.
  const offs: Array<() => void> = []
  const failed = new Promise<never>((_resolve, reject) => {
    for (const room of joined) offs.push(room.on('error', reject))
  })
  try {
    await Promise.race([
      failed,
      Promise.all(
        joined.map((room) =>
          waitForPeers(
            room,
            joined.filter((other) => other !== room).map((other) => other.self),
          ),
        ),
      ),
    ])
  } finally {
    for (const off of offs) off()
  }
  return joined
}

/** `from`'s view of `to`. */
function link(from: Room, to: Room): Peer {
  const peer = from.peers.get(to.self)
  if (peer === undefined) throw new Error(`${from.self} does not see ${to.self}`)
  return peer
}

/** Keeps a running code object for disposal in afterAll. */
function keep<T extends { dispose(): void }>(code: T): T {
  running.push(code)
  return code
}

const DEP = `export function shout(text) { return text.toUpperCase() + '!' }`
const main = (depId: string): string => `import { shout } from 'peerject:${depId}'
export function greet(name) { return shout('hello ' + name) }
export const answer = 42`

interface Greeter {
  greet(name: string): string
  answer: number
}

/** A store that records every hook call (name and id) and answers asynchronously. */
function recordingStore(): { store: CodeStore; calls: string[] } {
  const inner = createMemoryStore()
  const calls: string[] = []
  const record = (hook: string, id?: string): void => {
    calls.push(id === undefined ? hook : `${hook} ${id.slice(0, 8)}`)
  }
  const store: CodeStore = {
    getObject: async (id) => (record('getObject', id), inner.getObject(id)),
    getMetadata: async (id) => (record('getMetadata', id), inner.getMetadata(id)),
    registerObject: async (id, source) => (
      record('registerObject', id),
      inner.registerObject(id, source)
    ),
    registerMetadata: async (id, metadata) => (
      record('registerMetadata', id),
      inner.registerMetadata(id, metadata)
    ),
    removeObject: async (id) => (record('removeObject', id), inner.removeObject(id)),
    listMetadata: async () => (record('listMetadata'), inner.listMetadata()),
  }
  return { store, calls }
}

describe('code objects over real WebRTC', () => {
  it('B lists A’s registry, runs a module with a dependency and calls its exports', async () => {
    const [a, b] = (await group({}, {})) as [Room, Room]
    const depId = await a.code.publish(DEP, { name: 'shout', version: '1.0.0' })
    const id = await a.code.publish(main(depId), {
      name: 'greeter',
      version: '2.1.0',
      description: 'greets loudly',
      dependencies: [depId],
    })
    const fromB = link(b, a)

    const listed = await fromB.code.list()
    const byName = new Map(listed.map((m) => [m.name, m]))
    expect([...byName.keys()].sort()).toEqual(['greeter', 'shout'])
    expect(byName.get('greeter')).toMatchObject({
      id,
      name: 'greeter',
      version: '2.1.0',
      description: 'greets loudly',
      size: new TextEncoder().encode(main(depId)).byteLength,
      dependencies: [depId],
    } satisfies Partial<CodeMetadata>)
    expect(byName.get('shout')).toMatchObject({ id: depId, version: '1.0.0', dependencies: [] })

    const mod = keep(await fromB.code.run<Greeter>(id))
    expect(await mod.greet('ada')).toBe('HELLO ADA!')
    expect(await mod.answer).toBe(42)
    expect(mod.exportTypes).toEqual({ answer: 'number', greet: 'function' })

    // B cached both modules: it runs them locally, and now serves them too.
    const local = keep(await b.code.run<Greeter>(id))
    expect(await local.greet('bo')).toBe('HELLO BO!')
    expect((await link(a, b).code.list()).map((m) => m.id).sort()).toEqual([depId, id].sort())
  })

  it('bytes altered by the serving peer’s store reject ERR_INTEGRITY and are not cached', async () => {
    const honest = createMemoryStore()
    const tampering: CodeStore = {
      ...honest,
      getObject: (id) => honest.getObject(id)?.replace('toUpperCase', 'toLowerCase'),
    }
    const bStore = createMemoryStore()
    const [a, b] = (await group({ store: tampering }, { store: bStore })) as [Room, Room]
    const id = await a.code.publish(DEP)
    const error = await rejection(link(b, a).code.run(id))
    expect(error.code).toBe('ERR_INTEGRITY')
    expect(error.message).toMatch(/does not match its id/)
    expect(bStore.getObject(id)).toBeUndefined()
  })

  it('a token refused by A’s verifyToken rejects ERR_DENIED; the right one works', async () => {
    const checks: Array<[unknown, string, string]> = []
    const [a, b] = (await group(
      {
        verifyToken: (token, id, peer) => {
          checks.push([token, id, peer])
          return token === 'open sesame'
        },
      },
      {},
    )) as [Room, Room]
    const depId = await a.code.publish(DEP)
    const id = await a.code.publish(main(depId))
    const fromB = link(b, a)

    const denied = await rejection(fromB.code.run(id, { token: 'guess' }))
    expect(denied.code).toBe('ERR_DENIED')
    expect(await fromB.code.list({ token: 'guess' })).toEqual([])
    expect(checks.every(([, , peer]) => peer === b.self)).toBe(true)

    const mod = keep(await fromB.code.run<Greeter>(id, { token: 'open sesame' }))
    expect(await mod.greet('x')).toBe('HELLO X!')
    // The dependency was screened with the same token.
    expect(checks).toContainEqual(['open sesame', depId, b.self])
  })

  it('an endless loop is killed within timeoutMs (ERR_TIMEOUT), later calls ERR_CLOSED', async () => {
    const [a, b] = (await group({}, {})) as [Room, Room]
    const id = await a.code.publish(
      'export function spin() { for (;;) {} }\nexport function ok() { return 1 }',
    )
    // timeoutMs also bounds loading the worker; 2 s leaves room for a loaded 2-core CI machine.
    const timeoutMs = 2_000
    const mod = keep(await link(b, a).code.run<{ spin(): void; ok(): number }>(id, { timeoutMs }))
    const started = performance.now()
    const error = await rejection(mod.spin())
    const elapsed = performance.now() - started
    expect(error.code).toBe('ERR_TIMEOUT')
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(elapsed).toBeLessThan(timeoutMs + 3_000)
    expect((await rejection(mod.ok())).code).toBe('ERR_CLOSED')
  })

  it('network and Node built-ins are out of reach inside a code object', async () => {
    const [a, b] = (await group({}, {})) as [Room, Room]
    const id = await a.code.publish(`const attempts = {
  fetch: (url) => fetch(url),
  WebSocket: (url) => new WebSocket(url.replace('http', 'ws')),
  importHttp: (url) => import(url + 'x.js'),
  importNodeFs: () => import('node:fs'),
  importNet: async (url) => (await import('node:' + 'net')).connect(Number(new URL(url).port), '127.0.0.1'),
  importHttpModule: async (url) => (await import('node:http')).get(url),
  processEnv: () => process.env.HOME,
  require: () => require('node:fs'),
}
export async function probe(url) {
  const outcome = {}
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      const value = await attempt(url)
      outcome[name] = 'reached: ' + typeof value
    } catch (error) {
      outcome[name] = String(error && error.name) + ': ' + String(error && error.message)
    }
  }
  return outcome
}`)
    const mod = keep(await link(b, a).code.run<{ probe(url: string): Record<string, string> }>(id))
    const outcome = await mod.probe(trap.url)
    expect(Object.keys(outcome)).toHaveLength(8)
    for (const [name, result] of Object.entries(outcome)) {
      expect(result, name).not.toMatch(/^reached/)
    }
    expect(outcome['importNodeFs']).toMatch(/'node:fs' is refused/)
    expect(outcome['processEnv']).toMatch(/ReferenceError/)
    expect(outcome['require']).toMatch(/ReferenceError/)
    expect(outcome['fetch']).toMatch(/fetch is not available inside a code object/)
    expect(outcome['importHttp']).toMatch(/'http:\/\/127\.0\.0\.1:\d+\/x\.js' is refused/)
    expect(outcome['importNet']).toMatch(/'node:net' is refused/)
    expect(outcome['importHttpModule']).toMatch(/'node:http' is refused/)
    expect(outcome['WebSocket']).toMatch(
      typeof WebSocket === 'function'
        ? /WebSocket is not available inside a code object/
        : /ReferenceError: WebSocket is not defined/,
    )
    expect(trap.hits).toBe(0)
  })

  it('a custom store’s hooks are called as documented, on the serving and the fetching side', async () => {
    const serving = recordingStore()
    const fetching = recordingStore()
    const [a, b] = (await group({ store: serving.store }, { store: fetching.store })) as [
      Room,
      Room,
    ]
    const depId = await a.code.publish(DEP)
    const id = await a.code.publish(main(depId))
    const [dep8, id8] = [depId.slice(0, 8), id.slice(0, 8)]
    expect(serving.calls).toEqual([
      `registerObject ${dep8}`,
      `registerMetadata ${dep8}`,
      `registerObject ${id8}`,
      `registerMetadata ${id8}`,
    ])
    serving.calls.length = 0

    const fromB = link(b, a)
    await fromB.code.list()
    expect(serving.calls).toEqual(['listMetadata'])
    serving.calls.length = 0

    const mod = keep(await fromB.code.run<Greeter>(id))
    expect(await mod.greet('z')).toBe('HELLO Z!')
    // Serving side: each object is read with its metadata, root first.
    expect(serving.calls).toEqual([
      `getObject ${id8}`,
      `getMetadata ${id8}`,
      `getObject ${dep8}`,
      `getMetadata ${dep8}`,
    ])
    // Fetching side: a local miss, then the verified object is cached (object, then metadata).
    expect(fetching.calls).toEqual([
      `getObject ${id8}`,
      `registerObject ${id8}`,
      `registerMetadata ${id8}`,
      `getObject ${dep8}`,
      `registerObject ${dep8}`,
      `registerMetadata ${dep8}`,
    ])
    fetching.calls.length = 0
    serving.calls.length = 0

    // A second run is served from B's store: nothing is asked of A.
    keep(await fromB.code.run<Greeter>(id))
    expect(serving.calls).toEqual([])
    expect(fetching.calls).toEqual([
      `getObject ${id8}`,
      `getMetadata ${id8}`,
      `getObject ${dep8}`,
      `getMetadata ${dep8}`,
    ])

    await a.code.remove(id)
    expect(serving.calls.at(-1)).toBe(`removeObject ${id8}`)
  })

  it('capabilities granted by B are the module’s way out', async () => {
    const [a, b] = (await group({}, {})) as [Room, Room]
    const id = await a.code.publish(`let caps
export async function setup(granted) { caps = granted }
export async function work(n) {
  for (let i = 1; i <= n; i++) await caps.log('step ' + i)
  return n
}`)
    const lines: string[] = []
    const mod = keep(
      await link(b, a).code.run<{ work(n: number): number }>(id, {
        capabilities: { log: (line: string) => void lines.push(line) },
      }),
    )
    expect(await mod.work(3)).toBe(3)
    expect(lines).toEqual(['step 1', 'step 2', 'step 3'])
  })

  it('signatures: a trusted publisher key works; trusting another key rejects ERR_SIGNATURE', async () => {
    const publisher = await generateSigningKey()
    const stranger = await generateSigningKey()
    const cStore = createMemoryStore()
    const [a, b, c] = (await group(
      { signingKey: publisher },
      { trustedKeys: [await exportPublicKey(publisher.publicKey)] },
      { trustedKeys: [stranger.publicKey], store: cStore },
    )) as [Room, Room, Room]
    const depId = await a.code.publish(DEP)
    const id = await a.code.publish(main(depId), { name: 'signed' })
    const [listed] = (await link(b, a).code.list()).filter((m) => m.id === id)
    expect(listed?.signatures).toHaveLength(1)

    const mod = keep(await link(b, a).code.run<Greeter>(id))
    expect(await mod.greet('sig')).toBe('HELLO SIG!')

    const error = await rejection(link(c, a).code.run(id))
    expect(error.code).toBe('ERR_SIGNATURE')
    expect(cStore.getObject(id)).toBeUndefined()
    expect(cStore.getObject(depId)).toBeUndefined()
  })
})
