/**
 * The README's examples, run as written (Node peers over real WebRTC through the real signaling
 * server): the opening example, registered classes, and the code-objects example.
 */
import { expect, it } from 'vitest'
import { joinRoom } from '../../src/node.js'
import { createMemoryStore } from '../../src/index.js'
import { useSignaling } from '../helpers/signaling.js'
import { nextMessage, waitForPeers } from '../helpers/events.js'

const server = useSignaling()
const { rooms } = server

async function join(room: string, options: Partial<Parameters<typeof joinRoom>[0]> = {}) {
  const joined = await joinRoom({
    signaling: server.url,
    room,
    code: { store: createMemoryStore() },
    ...options,
  })
  rooms.push(joined)
  return joined
}

it('the opening example: a value with a date, a bigint and bytes, then a remote call', async () => {
  const b = await join('readme')
  const counter = { total: 0, add: (n: number) => (counter.total += n) }
  b.expose('counter', counter)
  const room = await join('readme')
  const [peer] = await waitForPeers(room, [b.self])
  const arrived = nextMessage(b)
  await peer?.send({ hello: 'world', at: new Date(0), big: 2n ** 80n, bytes: new Uint8Array(1e6) })
  const { value, from } = await arrived
  expect(from.id).toBe(room.self)
  expect(value).toEqual({
    hello: 'world',
    at: new Date(0),
    big: 2n ** 80n,
    bytes: new Uint8Array(1e6),
  })
  const remote = peer?.resolve<{ add(n: number): number }>('counter')
  expect(await remote?.add(2)).toBe(2)
  expect(await remote?.add(3)).toBe(5)
})

it('registered classes arrive as instances, without omitted fields', async () => {
  class Car {
    constructor(
      public speed = 0,
      public cache = new Map(),
    ) {}
    honk(): string {
      return 'beep'
    }
  }
  const a = await join('readme-classes')
  const b = await join('readme-classes')
  a.registerClass(Car, { name: 'Car', omit: ['cache'] })
  b.registerClass(Car, { name: 'Car', omit: ['cache'] })
  const [toB] = await waitForPeers(a, [b.self])
  const arrived = nextMessage(b)
  await toB?.send({ fleet: [new Car(35)] })
  const { fleet } = (await arrived).value as { fleet: Car[] }
  expect(fleet[0]).toBeInstanceOf(Car)
  expect(fleet[0]?.honk()).toBe('beep')
  expect(fleet[0]?.speed).toBe(35)
  expect(fleet[0]?.cache).toBeUndefined()
})

it('the code-objects example: publish with a dependency, list with a token, run', async () => {
  const b = await join('readme-code', {
    code: {
      store: createMemoryStore(),
      verifyToken: (token: unknown) => token === 'let-me-in',
    },
  })
  const dep = await b.code.publish(`export const twice = (n) => 2 * n`, { name: 'twice' })
  const id = await b.code.publish(
    `import { twice } from 'peerject:${dep}'\nexport function run(n) { return twice(n) + 1 }`,
    { name: 'sample', version: '1.0.0', dependencies: [dep] },
  )
  const room = await join('readme-code')
  const [a] = await waitForPeers(room, [b.self])
  const listed = await a?.code.list({ token: 'let-me-in' })
  expect(listed?.find((m) => m.id === id)).toMatchObject({
    name: 'sample',
    version: '1.0.0',
    dependencies: [dep],
  })
  const mod = await a?.code.run<{ run(n: number): number }>(id, {
    token: 'let-me-in',
    timeoutMs: 5_000,
  })
  try {
    expect(await mod?.run(20)).toBe(41)
  } finally {
    mod?.dispose()
  }
})
