/**
 * Issue 3: the browser build works under `Content-Security-Policy: script-src 'self'` (no `eval`,
 * no `new Function`). test/browser/pages/csp is built with `vite build` (production, minified),
 * served by a static server that sets the header, and loaded in Chromium, which runs the whole
 * codec round-trip table and exchanges values (a registered class included) with a Node peer over
 * real WebRTC — with no `securitypolicyviolation`. A positive control then shows the policy is
 * enforced and violations would have been seen. Last, code objects: under that strict policy run()
 * rejects ERR_CODE_LOAD (the sandbox inherits the page's policy), and the same build served with the
 * policy plus what `codeObjectCsp()` returns runs one.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from 'vite'
import type { Browser, Page } from 'playwright-core'
import { ClassRegistry, codeObjectCsp } from '../../src/index.js'
import type { Room } from '../../src/index.js'
import { joinRoom } from '../../src/node.js'
import type { SignalingServer } from '../../signaling/index.js'
import { launchChromium } from '../helpers/chromium.js'
import { startSignaling } from '../helpers/signaling.js'
import { codecCases } from '../unit/codec-cases.js'

const POLICY = "script-src 'self'"
const pageRoot = new URL('./pages/csp', import.meta.url).pathname
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

let outDir: string
let site: Server
let siteUrl: string
let server: SignalingServer
let browser: Browser
let page: Page
let node: Room | undefined
let publisher: Room | undefined
let codeSite: Server | undefined
const consoleErrors: string[] = []

/** Serves `dir` with `policy` as the CSP header of every response. */
function serveStatic(dir: string, policy = POLICY): Promise<Server> {
  const http = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname))
    if (path === '/favicon.ico') {
      response.writeHead(204).end()
      return
    }
    const file = join(dir, path === '/' ? 'index.html' : path)
    if (!file.startsWith(dir)) {
      response.writeHead(403).end()
      return
    }
    readFile(file).then(
      (body) => {
        response.writeHead(200, {
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
          'Content-Security-Policy': policy,
        })
        response.end(body)
      },
      () => response.writeHead(404, { 'Content-Security-Policy': policy }).end(),
    )
  })
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)))
}

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'peerject-csp-'))
  const [, signaling, chromium] = await Promise.all([
    build({
      root: pageRoot,
      configFile: false,
      logLevel: 'error',
      // The preload polyfill would be an inline script, which this policy refuses.
      build: { outDir, emptyOutDir: true, target: 'es2022', modulePreload: { polyfill: false } },
    }),
    startSignaling(),
    launchChromium(),
  ])
  server = signaling
  browser = chromium
  site = await serveStatic(outDir)
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`

  page = await (await browser.newContext()).newPage()
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`))
  // Init scripts are injected by the browser before any page script, outside the page's policy.
  await page.addInitScript({
    content: `window.violations = []
document.addEventListener('securitypolicyviolation', (event) => {
  window.violations.push({ directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample })
})`,
  })
  const response = await page.goto(siteUrl)
  expect(response?.headers()['content-security-policy']).toBe(POLICY)
  await page.waitForFunction(() => 'cspTest' in window)
})
afterAll(async () => {
  node?.leave()
  publisher?.leave()
  await new Promise((resolve) => codeSite?.close(resolve))
  await browser?.close()
  await new Promise((resolve) => site?.close(resolve))
  await server?.close()
  await rm(outDir, { recursive: true, force: true })
})

const violations = (): Promise<unknown[]> =>
  page.evaluate('window.violations') as Promise<unknown[]>

/**
 * Evaluates `expression` in a task of the page's own (a timer callback), never directly inside
 * `page.evaluate`: code that DevTools evaluates may call `eval` whatever the policy (measured:
 * `new Function` succeeds inside `page.evaluate` and throws EvalError in a `setTimeout` callback
 * of the same page), which would make this test pass vacuously.
 */
function inPage(expression: string, target: Page = page): Promise<unknown> {
  return target.evaluate(`new Promise((resolve, reject) => setTimeout(() => {
    Promise.resolve().then(() => ${expression}).then(resolve, reject)
  }))`)
}

it('the codec round-trip table passes in the production build under the policy', async () => {
  const result = (await inPage('window.cspTest.runCodecTable()')) as {
    count: number
    failures: string[]
  }
  expect(result.failures).toEqual([])
  expect(result.count).toBe(codecCases().length)
  expect(await violations()).toEqual([])
  expect(consoleErrors).toEqual([])
})

it('joinRoom and a value exchange with a Node peer work under the policy', async () => {
  class NodePoint {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }
  const classes = new ClassRegistry()
  classes.register(NodePoint, { name: 'csp.Point' })
  const roomName = `csp-${crypto.randomUUID()}`
  node = await joinRoom({ signaling: server.url, room: roomName, classes })
  const fromPage = new Promise<unknown>((resolve) =>
    node!.once('message', (value, from) => {
      resolve(value)
      void from.send({ point: new NodePoint(6, 8), echo: value })
    }),
  )
  const result = (await inPage(
    `window.cspTest.exchange(${JSON.stringify(server.url)}, ${JSON.stringify(roomName)}, ${JSON.stringify(node.self)})`,
  )) as { isPoint: boolean; norm: number; echo: { point: { x: number; y: number } } }

  const sent = (await fromPage) as { point: unknown; map: Map<bigint, Date>; bytes: Float64Array }
  expect(sent.point).toBeInstanceOf(NodePoint)
  expect(sent.point).toEqual(Object.assign(Object.create(NodePoint.prototype), { x: 3, y: 4 }))
  expect(sent.map).toEqual(new Map([[1n << 70n, new Date(0)]]))
  expect(sent.bytes).toEqual(new Float64Array([Math.PI]))
  expect(result.isPoint).toBe(true)
  expect(result.norm).toBe(10)
  expect(result.echo.point).toMatchObject({ x: 3, y: 4 })
  expect(await violations()).toEqual([])
  expect(consoleErrors).toEqual([])
})

it('control: the policy is enforced, and a violation would have been seen', async () => {
  await inPage('window.cspTest.leave()')
  const control = (await inPage('window.cspTest.tryDynamicCode()')) as {
    functionRefused: boolean
    evalRefused: boolean
  }
  expect(control).toEqual({ functionRefused: true, evalRefused: true })
  await page.waitForFunction('window.violations.length >= 2')
  const seen = (await violations()) as Array<{ directive: string; blocked: string }>
  expect(seen.every((v) => v.directive === 'script-src' && v.blocked === 'eval')).toBe(true)
})

describe('code objects under a page policy', () => {
  let roomName: string
  let id: string
  beforeAll(async () => {
    roomName = `csp-code-${crypto.randomUUID()}`
    publisher = await joinRoom({ signaling: server.url, room: roomName })
    id = await publisher.code.publish(
      `export function run() { return 'document is ' + typeof document }`,
      {
        name: 'csp-sample',
      },
    )
  })

  async function runIn(
    url: string,
  ): Promise<{ result?: unknown; code?: string; message?: string }> {
    const target = await (await browser.newContext()).newPage()
    try {
      await target.goto(url)
      await target.waitForFunction(() => 'cspTest' in window)
      return (await inPage(
        `window.cspTest.runCode(${JSON.stringify(server.url)}, ${JSON.stringify(roomName)}, ${JSON.stringify(publisher!.self)}, ${JSON.stringify(id)})`,
        target,
      )) as { result?: unknown; code?: string; message?: string }
    } finally {
      await target.context().close()
    }
  }

  it("under script-src 'self' alone, run() rejects ERR_CODE_LOAD once the sandbox loads", async () => {
    // The message of a sandbox that loaded without running its script, not of the start timeout.
    expect(await runIn(siteUrl)).toMatchObject({
      code: 'ERR_CODE_LOAD',
      message: expect.stringMatching(/sandbox's script did not run.*codeObjectCsp\(\)/),
    })
  })

  it('with the sources codeObjectCsp() returns merged into the policy, a code object runs', async () => {
    const csp = await codeObjectCsp()
    expect(csp.scriptSrc).toMatch(/^'sha256-[A-Za-z0-9+/]+=*' data: blob:$/)
    codeSite = await serveStatic(
      outDir,
      `script-src 'self' ${csp.scriptSrc}; worker-src ${csp.workerSrc}`,
    )
    const url = `http://127.0.0.1:${(codeSite.address() as AddressInfo).port}/`
    expect(await runIn(url)).toEqual({ result: 'document is undefined' })
  })
})
