/**
 * The browser's default {@link CodeStore}: one IndexedDB database with two object stores, `objects`
 * (id → source) and `metadata` (id → metadata). Where IndexedDB is absent (Node, some workers) or
 * refuses to open (opaque origins, some private modes), the store falls back to memory, so fetching
 * and running still work; only persistence across page loads is lost.
 */
import { createMemoryStore } from './memory-store.js'
import { isCodeMetadata } from './protocol.js'
import type { CodeId, CodeMetadata, CodeStore } from './types.js'

const OBJECTS = 'objects'
const METADATA = 'metadata'

/** Default database name of {@link createIndexedDbStore}. */
export const DEFAULT_INDEXEDDB_NAME = 'peerject-code'

/** Creates a store in the IndexedDB database `name` (opened on first use). */
export function createIndexedDbStore(name: string = DEFAULT_INDEXEDDB_NAME): CodeStore {
  let backend: Promise<IDBDatabase | CodeStore> | undefined
  const open = (): Promise<IDBDatabase | CodeStore> => {
    backend ??= openDatabase(name).catch(() => createMemoryStore())
    return backend
  }

  /** Runs one transaction, or the memory fallback; results are checked by the callers. */
  const run = async (
    mode: IDBTransactionMode,
    onDatabase: (tx: IDBTransaction) => IDBRequest | undefined,
    onMemory: (store: CodeStore) => unknown,
  ): Promise<unknown> => {
    const target = await open()
    if (!isDatabase(target)) return onMemory(target)
    const tx = target.transaction([OBJECTS, METADATA], mode)
    const request = onDatabase(tx)
    await settled(tx)
    return request?.result
  }

  return {
    getObject: async (id) => {
      const value = await run(
        'readonly',
        (tx) => tx.objectStore(OBJECTS).get(id),
        (memory) => memory.getObject(id),
      )
      return typeof value === 'string' ? value : undefined
    },
    getMetadata: async (id) => {
      const value = await run(
        'readonly',
        (tx) => tx.objectStore(METADATA).get(id),
        (memory) => memory.getMetadata(id),
      )
      return isCodeMetadata(value) ? (value as CodeMetadata) : undefined
    },
    registerObject: async (id, source) => {
      await run(
        'readwrite',
        (tx) => tx.objectStore(OBJECTS).put(source, id),
        (memory) => memory.registerObject(id, source),
      )
    },
    registerMetadata: async (id, metadata) => {
      await run(
        'readwrite',
        (tx) => tx.objectStore(METADATA).put(metadata, id),
        (memory) => memory.registerMetadata(id, metadata),
      )
    },
    removeObject: async (id: CodeId) => {
      await run(
        'readwrite',
        (tx) => {
          tx.objectStore(OBJECTS).delete(id)
          tx.objectStore(METADATA).delete(id)
          return undefined
        },
        (memory) => memory.removeObject(id),
      )
    },
    listMetadata: async () => {
      const values = await run(
        'readonly',
        (tx) => tx.objectStore(METADATA).getAll(),
        (memory) => memory.listMetadata?.(),
      )
      if (!Array.isArray(values)) return []
      return values.filter((value): value is CodeMetadata => isCodeMetadata(value))
    },
  }
}

function isDatabase(value: IDBDatabase | CodeStore): value is IDBDatabase {
  return typeof (value as Partial<IDBDatabase>).transaction === 'function'
}

function openDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB
    if (factory === undefined) {
      reject(new Error('IndexedDB is not available'))
      return
    }
    const request = factory.open(name, 1)
    request.onupgradeneeded = () => {
      const db = request.result
      if (!db.objectStoreNames.contains(OBJECTS)) db.createObjectStore(OBJECTS)
      if (!db.objectStoreNames.contains(METADATA)) db.createObjectStore(METADATA)
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error(`cannot open IndexedDB '${name}'`))
    request.onblocked = () => reject(new Error(`IndexedDB '${name}' is blocked by another tab`))
  })
}

function settled(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
  })
}
