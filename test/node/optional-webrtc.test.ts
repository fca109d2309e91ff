/**
 * node-datachannel is an optional peer dependency: without it, `peerject/node` must say what to
 * install. A child process runs the sources with a resolve hook that makes node-datachannel
 * missing, as it is in an app that never installed it.
 */
import { expect, it } from 'vitest'
import { ROOT, runModule } from '../helpers/child.js'

const MISSING = `export async function resolve(specifier, context, next) {
  if (specifier === 'node-datachannel' || specifier.startsWith('node-datachannel/')) {
    throw Object.assign(new Error("Cannot find package 'node-datachannel'"), { code: 'ERR_MODULE_NOT_FOUND' })
  }
  return next(specifier, context)
}`

const REGISTER = `import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(MISSING)}))`

it('without node-datachannel, loading the Node platform rejects ERR_CONNECT saying what to install', async () => {
  const { code, stdout, stderr } = await runModule(
    `
    import { loadNodePlatform } from ${JSON.stringify(`${ROOT}src/node-platform.ts`)}
    try {
      await loadNodePlatform(undefined)
      console.log(JSON.stringify({ loaded: true }))
    } catch (error) {
      console.log(JSON.stringify({ code: error.code, message: error.message }))
    }
  `,
    { imports: [`data:text/javascript,${encodeURIComponent(REGISTER)}`] },
  )
  expect(code, stderr).toBe(0)
  const result = JSON.parse(stdout) as { code?: string; message?: string }
  expect(result.code).toBe('ERR_CONNECT')
  expect(result.message).toContain('npm install node-datachannel')
})
