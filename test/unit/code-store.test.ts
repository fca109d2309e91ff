/**
 * The stores: memory, a directory on disk (Node), IndexedDB's memory fallback where IndexedDB is
 * absent (as in Node). Each is exercised through the same contract.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, describe, expect, test } from 'vitest'

import {
  codeIdOf,
  createIndexedDbStore,
  createMemoryStore,
  type CodeMetadata,
  type CodeStore,
} from '../../src/code/index.js'
import { createDirectoryStore } from '../../src/code/node.js'

const directories: string[] = []
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true })
})

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'peerject-code-'))
  directories.push(directory)
  return directory
}

const SOURCE = 'export const stored = true'

async function exercise(store: CodeStore): Promise<void> {
  const id = await codeIdOf(SOURCE)
  const metadata: CodeMetadata = { id, name: 'stored', version: '1', dependencies: [], size: 26 }
  expect(await store.getObject(id)).toBeUndefined()
  expect(await store.getMetadata(id)).toBeUndefined()
  await store.registerObject(id, SOURCE)
  await store.registerMetadata(id, metadata)
  expect(await store.getObject(id)).toBe(SOURCE)
  expect(await store.getMetadata(id)).toEqual(metadata)
  expect(await store.listMetadata?.()).toEqual([metadata])
  await store.removeObject(id)
  expect(await store.getObject(id)).toBeUndefined()
  expect(await store.getMetadata(id)).toBeUndefined()
  expect(await store.listMetadata?.()).toEqual([])
}

describe('stores', () => {
  test('memory store keeps copies', async () => {
    const store = createMemoryStore()
    await exercise(store)
    const id = await codeIdOf(SOURCE)
    const metadata = { id, name: 'n', dependencies: [] as string[], size: 1 }
    store.registerMetadata(id, metadata)
    metadata.dependencies.push('changed')
    expect(store.getMetadata(id)?.dependencies).toEqual([])
  })

  test('directory store', async () => {
    const directory = join(await temporaryDirectory(), 'nested')
    await exercise(createDirectoryStore(directory))
  })

  test('directory store: files on disk, ids checked before touching paths, junk ignored', async () => {
    const directory = await temporaryDirectory()
    const store = createDirectoryStore(directory)
    const id = await codeIdOf(SOURCE)
    await store.registerObject(id, SOURCE)
    await store.registerMetadata(id, { id, name: 'x', dependencies: [], size: 26 })
    expect((await readdir(directory)).sort()).toEqual([`${id}.js`, `${id}.json`])
    expect(() => store.getObject('../../etc/passwd')).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_MESSAGE' }),
    )
    await writeFile(join(directory, `${'e'.repeat(64)}.json`), '{ not json')
    await writeFile(join(directory, `${'e'.repeat(64)}.js`), 'x')
    expect((await store.listMetadata?.())?.map((m) => m.id)).toEqual([id])
  })

  test('IndexedDB store falls back to memory where IndexedDB is absent', async () => {
    expect('indexedDB' in globalThis).toBe(false)
    await exercise(createIndexedDbStore('peerject-test'))
  })
})
