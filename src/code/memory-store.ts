/**
 * The in-memory {@link CodeStore}: the default where nothing persistent is available, and what
 * tests use. Metadata is copied on the way in and out, so callers cannot change what is stored.
 */
import { cleanMetadata } from './protocol.js'
import type { CodeId, CodeMetadata, CodeStore } from './types.js'

/** A {@link CodeStore} whose hooks are synchronous and always present (including `listMetadata`). */
export interface MemoryCodeStore extends CodeStore {
  getObject(id: CodeId): string | undefined
  getMetadata(id: CodeId): CodeMetadata | undefined
  registerObject(id: CodeId, source: string): void
  registerMetadata(id: CodeId, metadata: CodeMetadata): void
  removeObject(id: CodeId): void
  listMetadata(): CodeMetadata[]
}

/** Creates an empty in-memory store. */
export function createMemoryStore(): MemoryCodeStore {
  const objects = new Map<CodeId, string>()
  const metadata = new Map<CodeId, CodeMetadata>()
  return {
    getObject: (id) => objects.get(id),
    getMetadata: (id) => {
      const found = metadata.get(id)
      return found === undefined ? undefined : cleanMetadata(found)
    },
    registerObject: (id, source) => {
      objects.set(id, source)
    },
    registerMetadata: (id, value) => {
      metadata.set(id, cleanMetadata(value))
    },
    removeObject: (id) => {
      objects.delete(id)
      metadata.delete(id)
    },
    listMetadata: () => [...metadata.values()].filter((m) => objects.has(m.id)).map(cleanMetadata),
  }
}
