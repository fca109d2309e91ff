/**
 * What `npm pack` publishes: the peer dependencies Node apps choose from, the license, and no
 * source maps pointing at sources the package does not ship. (`npm test` builds `dist/` first.)
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const root = new URL('../../', import.meta.url)

test('package.json declares both WebRTC implementations as optional peer dependencies, once', async () => {
  const text = await readFile(new URL('package.json', root), 'utf8')
  // JSON.parse keeps the last of duplicate keys: a second block silently replaced the first.
  expect(text.match(/"peerDependencies"/g)).toHaveLength(1)
  expect(text.match(/"peerDependenciesMeta"/g)).toHaveLength(1)
  const manifest = JSON.parse(text) as {
    peerDependencies: Record<string, string>
    peerDependenciesMeta: Record<string, { optional?: boolean }>
  }
  expect(Object.keys(manifest.peerDependencies).sort()).toEqual([
    '@roamhq/wrtc',
    'node-datachannel',
  ])
  for (const name of Object.keys(manifest.peerDependencies)) {
    expect(manifest.peerDependenciesMeta[name]?.optional, name).toBe(true)
  }
})

test('the tarball holds the license and the built code, without source maps, tests or bench', async () => {
  const { stdout } = await promisify(execFile)(
    'npm',
    ['pack', '--dry-run', '--json', '--ignore-scripts'],
    { cwd: root },
  )
  const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  const paths = pack!.files.map((file) => file.path)
  expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'dist/src/index.js']))
  expect(paths).toContain('dist/src/index.d.ts')
  expect(paths.filter((path) => path.endsWith('.map'))).toEqual([])
  expect(paths.filter((path) => /^(test|bench|src|demo)\//.test(path))).toEqual([])
})

test('the built peerject-signaling command prints the package version', async () => {
  const { version } = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
    version: string
  }
  const { stdout } = await promisify(execFile)(process.execPath, [
    new URL('dist/signaling/bin.js', root).pathname,
    '--version',
  ])
  expect(stdout).toBe(`${version}\n`)
})
