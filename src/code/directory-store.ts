/**
 * Node's default {@link CodeStore}: a directory holding `<id>.js` (the source) and `<id>.json` (its
 * metadata) per code object. Node-only (imports `node:fs`): only the Node entry may import it.
 *
 * Writes go to a temporary file that is then renamed, so a reader never sees half a file. Ids are
 * checked against the id format before they touch a path, so no id can name a file outside `path`.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

import { PeerjectError } from '../errors.js'
import { randomId } from '../ids.js'
import { isCodeId } from './code-id.js'
import { cleanMetadata, isCodeMetadata } from './protocol.js'
import type { CodeId, CodeMetadata, CodeStore } from './types.js'

/** Creates a store in directory `path` (created on first write). */
export function createDirectoryStore(path: string): CodeStore {
  const file = (id: CodeId, extension: '.js' | '.json'): string => {
    if (!isCodeId(id)) {
      throw new PeerjectError('ERR_BAD_MESSAGE', `'${String(id).slice(0, 80)}' is not a code id`)
    }
    return join(path, id + extension)
  }
  const write = async (target: string, text: string): Promise<void> => {
    await mkdir(path, { recursive: true })
    const temporary = `${target}.${randomId()}.tmp`
    try {
      await writeFile(temporary, text, 'utf8')
      await rename(temporary, target)
    } catch (error) {
      await rm(temporary, { force: true })
      throw error
    }
  }

  return {
    getObject: (id) => readIfExists(file(id, '.js')),
    getMetadata: async (id) => parseMetadata(await readIfExists(file(id, '.json'))),
    registerObject: (id, source) => write(file(id, '.js'), source),
    registerMetadata: (id, metadata) =>
      write(file(id, '.json'), JSON.stringify(cleanMetadata(metadata), null, 2)),
    removeObject: async (id) => {
      await rm(file(id, '.js'), { force: true })
      await rm(file(id, '.json'), { force: true })
    },
    listMetadata: async () => {
      let names: string[]
      try {
        names = await readdir(path)
      } catch (error) {
        if (isMissing(error)) return []
        throw error
      }
      const sources = new Set(names.filter((n) => n.endsWith('.js')).map((n) => n.slice(0, -3)))
      const found: CodeMetadata[] = []
      for (const name of names) {
        const id = name.slice(0, -'.json'.length)
        if (!name.endsWith('.json') || !isCodeId(id) || !sources.has(id)) continue
        const metadata = parseMetadata(await readIfExists(join(path, name)))
        if (metadata !== undefined && metadata.id === id) found.push(metadata)
      }
      return found
    },
  }
}

async function readIfExists(target: string): Promise<string | undefined> {
  try {
    return await readFile(target, 'utf8')
  } catch (error) {
    if (isMissing(error)) return undefined
    throw error
  }
}

function parseMetadata(text: string | undefined): CodeMetadata | undefined {
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return isCodeMetadata(value) ? value : undefined
  } catch {
    return undefined
  }
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT'
}
