/**
 * Static checks on the code-objects sources: the vendored Comlink matches the installed package, and
 * the browser entry's import graph reaches no Node module.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'

import { describe, expect, test } from 'vitest'

import { COMLINK_SOURCE, COMLINK_VERSION } from '../../src/code/worker/comlink-source.js'

const root = resolve(import.meta.dirname, '../..')
const require = createRequire(import.meta.url)

/** Every import specifier of `file` and, recursively, of the relative modules it imports. */
async function importGraph(
  file: string,
  seen = new Map<string, string[]>(),
): Promise<Map<string, string[]>> {
  if (seen.has(file)) return seen
  // Comments are dropped: doc comments show imports as examples.
  const text = (await readFile(file, 'utf8'))
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const specifiers = [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'/g,
    ),
  ].map((match) => (match[1] ?? match[2]) as string)
  seen.set(file, specifiers)
  for (const specifier of specifiers) {
    if (specifier.startsWith('.'))
      await importGraph(join(dirname(file), specifier.replace(/\.js$/, '.ts')), seen)
  }
  return seen
}

describe('code objects: static checks', () => {
  test('the vendored Comlink is the installed one', async () => {
    const installed = await readFile(require.resolve('comlink/dist/esm/comlink.min.mjs'), 'utf8')
    expect(COMLINK_SOURCE).toBe(installed.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'))
    const { version } = JSON.parse(
      await readFile(require.resolve('comlink/package.json'), 'utf8'),
    ) as {
      version: string
    }
    expect(COMLINK_VERSION).toBe(version)
  })

  test('the browser entry imports no node: module, only comlink outside src', async () => {
    const graph = await importGraph(join(root, 'src/code/index.ts'))
    const files = [...graph.keys()].map((file) => file.slice(root.length + 1))
    expect(files).toContain('src/code/browser-host.ts')
    expect(files).not.toContain('src/code/node-host.ts')
    expect(files).not.toContain('src/code/directory-store.ts')
    const external = new Set([...graph.values()].flat().filter((s) => !s.startsWith('.')))
    expect([...external]).toEqual(['comlink'])
  })

  test('the Node entry does import the Node pieces (the check above can fail)', async () => {
    const graph = await importGraph(join(root, 'src/code/node.ts'))
    const external = [...graph.values()].flat().filter((s) => s.startsWith('node:'))
    expect(external).toContain('node:worker_threads')
  })
})
