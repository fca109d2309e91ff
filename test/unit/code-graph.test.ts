/**
 * Collecting a dependency graph: order, cycles, missing modules, limits, local-store integrity.
 */
import { describe, expect, test } from 'vitest'

import { codeIdOf, createMemoryStore, type CodeModule } from '../../src/code/index.js'
import { collectCode, order } from '../../src/code/graph.js'

function module(id: string, dependencies: string[]): CodeModule {
  return { id, source: '', metadata: { id, name: id, dependencies, size: 0 } }
}

const ids = { a: 'a'.repeat(64), b: 'b'.repeat(64), c: 'c'.repeat(64), d: 'd'.repeat(64) }

describe('order', () => {
  test('dependencies come before dependents, shared ones once', () => {
    const graph = new Map([
      [ids.a, module(ids.a, [ids.b, ids.c])],
      [ids.b, module(ids.b, [ids.d])],
      [ids.c, module(ids.c, [ids.d])],
      [ids.d, module(ids.d, [])],
    ])
    expect(order(ids.a, graph).map((m) => m.id[0])).toEqual(['d', 'b', 'c', 'a'])
  })

  test('a cycle is rejected with ERR_BAD_MESSAGE naming it', () => {
    const graph = new Map([
      [ids.a, module(ids.a, [ids.b])],
      [ids.b, module(ids.b, [ids.c])],
      [ids.c, module(ids.c, [ids.b])],
    ])
    expect(() => order(ids.a, graph)).toThrow(
      expect.objectContaining({
        code: 'ERR_BAD_MESSAGE',
        message: expect.stringContaining('dependency cycle: bbbbbbbb… → cccccccc… → bbbbbbbb…'),
      }),
    )
  })
})

describe('collectCode', () => {
  test('reads the local store; a missing dependency names the chain', async () => {
    const store = createMemoryStore()
    const leafId = await codeIdOf('export const leaf = 1')
    const middle = `export * from 'peerject:${leafId}'`
    const middleId = await codeIdOf(middle)
    const root = `export * from 'peerject:${middleId}'`
    const rootId = await codeIdOf(root)
    store.registerObject(middleId, middle)
    store.registerObject(rootId, root)
    await expect(collectCode(rootId, { store, trustedKeys: [], maxModules: 10 })).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_NOT_FOUND',
        message: expect.stringContaining(
          `${leafId.slice(0, 8)}… (needed by ${rootId.slice(0, 8)}… → ${middleId.slice(0, 8)}…)`,
        ),
      }),
    )
    store.registerObject(leafId, 'export const leaf = 1')
    const code = await collectCode(rootId, { store, trustedKeys: [], maxModules: 10 })
    expect(code.modules.map((m) => m.id)).toEqual([leafId, middleId, rootId])
    // Dependencies are derived from the source, whatever the stored metadata says.
    expect(code.modules[2]?.metadata.dependencies).toEqual([middleId])
    await expect(
      collectCode(rootId, { store, trustedKeys: [], maxModules: 2 }),
    ).rejects.toMatchObject({
      code: 'ERR_TOO_LARGE',
    })
  })

  test('a local source that does not match its id is refetched, not trusted', async () => {
    const store = createMemoryStore()
    const id = await codeIdOf('export const good = 1')
    store.registerObject(id, 'export const evil = 1')
    const fetched: string[] = []
    const code = await collectCode(id, {
      store,
      trustedKeys: [],
      maxModules: 10,
      remote: async (wanted) => {
        fetched.push(wanted)
        return { ...module(wanted, []), source: 'export const good = 1' }
      },
    })
    expect(fetched).toEqual([id])
    expect(code.modules[0]?.source).toBe('export const good = 1')
    expect(store.getObject(id)).toBe('export const good = 1')
  })
})
