/**
 * node-datachannel is an optional peer dependency: without it, `peerject/node` must say what to
 * install. A child process runs the sources (through tsx) with a resolve hook that makes
 * node-datachannel missing, as it is in an app that never installed it.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const MISSING = `export async function resolve(specifier, context, next) {
  if (specifier === 'node-datachannel' || specifier.startsWith('node-datachannel/')) {
    throw Object.assign(new Error("Cannot find package 'node-datachannel'"), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  return next(specifier, context)
}`

const REGISTER = `import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(MISSING)}))`

function run(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        `data:text/javascript,${encodeURIComponent(REGISTER)}`,
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${err}`)),
    )
  })
}

it('without node-datachannel, loading the Node platform rejects ERR_CONNECT saying what to install', async () => {
  const output = await run(`
    import { loadNodePlatform } from ${JSON.stringify(`${ROOT}src/node-platform.ts`)}
    try {
      await loadNodePlatform(undefined)
      console.log(JSON.stringify({ loaded: true }))
    } catch (error) {
      console.log(JSON.stringify({ code: error.code, message: error.message }))
    }
  `)
  const result = JSON.parse(output) as { code?: string; message?: string }
  expect(result.code).toBe('ERR_CONNECT')
  expect(result.message).toContain('npm install node-datachannel')
})
