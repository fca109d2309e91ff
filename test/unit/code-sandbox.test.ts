/**
 * What a running code object can and cannot do in Node (worker threads): isolation from the network
 * and Node's built-ins, capabilities, time and memory limits, load errors, dispose.
 */
import { inspect } from 'node:util'

import * as Comlink from 'comlink'
import { afterEach, describe, expect, test } from 'vitest'

import { Codec } from '../../src/codec/index.js'
import { CodeService, type RunOptions, type RunningCode } from '../../src/code/index.js'
import { NodeWorkerHost } from '../../src/code/node.js'
import type { WorkerHost } from '../../src/code/worker-host.js'
import { PeerjectError } from '../../src/errors.js'

const running: Array<{ dispose(): void }> = []

afterEach(() => {
  for (const code of running.splice(0)) code.dispose()
})

async function start<T>(source: string, options: RunOptions = {}): Promise<RunningCode<T>> {
  const code = new CodeService({ codec: new Codec(), host: new NodeWorkerHost() })
  const mod = await code.run<T>(await code.publish(source), options)
  running.push(mod)
  return mod
}

async function failure(source: string, options: RunOptions = {}): Promise<unknown> {
  return start(source, options).then(
    () => new Error('expected run() to reject'),
    (error: unknown) => error,
  )
}

describe('isolation', () => {
  const PROBE = `
const attempts = {
  fetch: () => fetch('http://127.0.0.1:9/'),
  WebSocket: () => new WebSocket('ws://127.0.0.1:9/'),
  BroadcastChannel: () => new BroadcastChannel('app'),
  importNodeFs: () => import('node:fs'),
  importConstructed: () => import('node:' + 'child_process'),
  importBare: () => import('fs'),
  importFile: () => import('file:///etc/hostname'),
  importHttp: () => import('http://127.0.0.1:9/x.js'),
  importThroughData: () => import('data:text/javascript,import "node:net"'),
  importFromFunction: () => new Function('return import("node:os")')(),
  importFromEval: () => eval('import("node:os")'),
  importWithoutReferrer: () => Promise.resolve('return import("node:net")').then(Function).then((f) => f()),
  processEnv: () => process.env.HOME,
  globalThisProcess: () => globalThis.process.binding('fs'),
  require: () => require('node:fs'),
  Buffer: () => Buffer.from('x'),
  // Node's internals call postMessage on the worker's internal port through this prototype.
  patchPortPrototype: () => { MessagePort.prototype.postMessage = () => undefined },
  patchEventTarget: () => Object.defineProperty(EventTarget.prototype, 'addEventListener', { value: () => undefined }),
  consoleStdio: () => {
    const streams = [console._stdout, console._stderr, ...Object.getOwnPropertySymbols(console).map((s) => console[s])]
    const found = streams.find((stream) => stream !== undefined)
    if (found === undefined) throw new Error('console holds no stream')
    return found
  },
}
console.log('a code object can still log') // the forwarding console works
export async function probe() {
  const outcome = {}
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      const value = await attempt()
      outcome[name] = 'reached: ' + typeof value
    } catch (error) {
      outcome[name] = String(error && error.name) + ': ' + String(error && error.message)
    }
  }
  return outcome
}`

  test('network, built-ins, files, packages and process are out of reach', async () => {
    const mod = await start<{ probe(): Record<string, string> }>(PROBE)
    const outcome = await mod.probe()
    expect(Object.keys(outcome)).toHaveLength(19)
    for (const [name, result] of Object.entries(outcome)) {
      expect(result, name).not.toMatch(/^reached/)
    }
    // Each attempt fails for the sandbox's reason, not by accident of the runtime.
    const refused = /may import only 'peerject:<id>' dependencies; '.*' is refused/
    const expected: Record<string, RegExp> = {
      fetch: /fetch is not available inside a code object/,
      // Node 20 has no WebSocket global at all; where the host has one, the sandbox removes it.
      WebSocket:
        typeof WebSocket === 'function'
          ? /WebSocket is not available inside a code object/
          : /ReferenceError: WebSocket is not defined/,
      BroadcastChannel: /BroadcastChannel is not available inside a code object/,
      importNodeFs: /'node:fs' is refused/,
      importConstructed: /'node:child_process' is refused/,
      importBare: refused,
      importFile: refused,
      importHttp: /'http:\/\/127\.0\.0\.1:9\/x\.js' is refused/,
      importThroughData: refused,
      importFromFunction: refused,
      importFromEval: refused,
      importWithoutReferrer: /dynamic import callback was not specified/,
      processEnv: /ReferenceError: process is not defined/,
      globalThisProcess: /TypeError/,
      require: /ReferenceError: require is not defined/,
      Buffer: /ReferenceError: Buffer is not defined/,
      consoleStdio: /console holds no stream/,
      patchPortPrototype: /TypeError: Cannot assign to read only property 'postMessage'/,
      patchEventTarget: /TypeError: Cannot redefine property: addEventListener/,
    }
    expect(Object.keys(expected).sort()).toEqual(Object.keys(outcome).sort())
    for (const [name, pattern] of Object.entries(expected)) {
      expect(outcome[name], name).toMatch(pattern)
    }
    // data: URLs are not dependencies either: refused before anything inside them is read.
    expect(outcome['importThroughData']).toMatch(
      /'data:text\/javascript,import "node:net"' is refused/,
    )
    expect(outcome['processEnv']).toMatch(/ReferenceError: process is not defined/)
    expect(outcome['require']).toMatch(/ReferenceError: require is not defined/)
    expect(outcome['consoleStdio']).toMatch(/console holds no stream/)
  })

  test('a static import of a built-in fails the load with ERR_CODE_LOAD', async () => {
    const error = await failure(
      `import { readFileSync } from 'node:fs'\nexport const x = readFileSync`,
    )
    expect(error).toMatchObject({ code: 'ERR_CODE_LOAD' })
    expect((error as Error).message).toMatch(/'node:fs' is refused/)
  })

  test('capabilities are the way out: setup() receives them and calls reach the host', async () => {
    const logged: string[] = []
    const capabilities = {
      log: (line: string) => {
        logged.push(line)
      },
      greeter: { greet: (name: string) => `hello ${name}` },
    }
    const mod = await start<{ hello(name: string): string; poke(): string }>(
      `let caps
export async function setup(granted) {
  caps = granted
  await caps.log('setup ran')
}
export async function hello(name) {
  await caps.log('hello ' + name)
  return caps.greeter.greet(name)
}
export async function poke() {
  const results = []
  for (const attempt of [
    () => caps.constructor.constructor('return process'),
    () => caps.greeter.__proto__,
    () => caps.log.prototype,
    () => caps._private(),
  ]) {
    try { await attempt(); results.push('allowed') } catch (error) { results.push(String(error.message)) }
  }
  caps.__proto__.polluted = 'yes' // a SET: refused by the host; its rejection is unobservable here
  caps.greeter.greet = null
  await caps.log('after writes')
  return results.join(' | ')
}`,
      { capabilities },
    )
    expect(await mod.hello('ada')).toBe('hello ada')
    expect(logged).toEqual(['setup ran', 'hello ada'])
    const poked = (await mod.poke()).split(' | ')
    expect(poked).toEqual([
      "the name 'constructor' is not reachable on capabilities",
      "the name '__proto__' is not reachable on capabilities",
      "the name 'prototype' is not reachable on capabilities",
      "the name '_private' is not reachable on capabilities",
    ])
    expect(logged.at(-1)).toBe('after writes')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(typeof capabilities.greeter.greet).toBe('function')
  })

  test('capabilities without an exported setup() reject ERR_CODE_LOAD', async () => {
    const error = await failure('export const x = 1', { capabilities: { log() {} } })
    expect(error).toMatchObject({ code: 'ERR_CODE_LOAD' })
    expect((error as Error).message).toMatch(/exports no setup\(capabilities\)/)
  })
})

describe('limits and lifecycle', () => {
  test('a call that never returns is killed within timeoutMs: ERR_TIMEOUT, then ERR_CLOSED', async () => {
    const mod = await start<{ spin(): void; ok(): number }>(
      'export function spin() { for (;;) {} }\nexport function ok() { return 1 }',
      { timeoutMs: 2500 },
    )
    expect(await mod.ok()).toBe(1)
    const started = performance.now()
    await expect(mod.spin()).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(performance.now() - started).toBeLessThan(2500 + 3000)
    await expect(mod.ok()).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  })

  test('an endless loop at load time is killed too', async () => {
    const started = performance.now()
    const error = await failure('for (;;) {}', { timeoutMs: 300 })
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(performance.now() - started).toBeLessThan(300 + 2000)
  })

  test('a top-level await that never settles rejects ERR_CODE_LOAD saying so', async () => {
    expect(await failure('await new Promise(() => {})\nexport const never = 1')).toMatchObject({
      code: 'ERR_CODE_LOAD',
      message: expect.stringMatching(/stopped before it finished loading .* at top level/),
    })
  })

  test('a syntax error rejects ERR_CODE_LOAD with the module message', async () => {
    const error = await failure('export function broken( {')
    expect(error).toMatchObject({ code: 'ERR_CODE_LOAD' })
    expect((error as Error).message).toMatch(/failed to load: SyntaxError: /)
  })

  test('an evaluation error rejects ERR_CODE_LOAD with the thrown message', async () => {
    const error = await failure("throw new RangeError('boom at load')")
    expect(error).toMatchObject({ code: 'ERR_CODE_LOAD' })
    expect((error as Error).message).toMatch(/RangeError: boom at load/)
  })

  test('errors thrown by an export reach the caller; the worker keeps serving', async () => {
    const mod = await start<{ fail(): void; ok(): number }>(
      "export function fail() { throw new TypeError('nope') }\nexport function ok() { return 2 }",
    )
    await expect(mod.fail()).rejects.toThrow('nope')
    expect(await mod.ok()).toBe(2)
  })

  test('a thrown error keeps its class, name, cause chain and own data properties', async () => {
    const mod = await start<{ fail(): void; custom(): void; odd(): void }>(
      [
        'class HttpError extends Error { name = "HttpError" }',
        "export function fail() { throw new RangeError('too big', { cause: new TypeError('inner', { cause: 'root' }) }) }",
        "export function custom() { const e = new HttpError('not found'); e.status = 404; e.code = 'E_HTTP'; e.detail = { path: '/x' }; throw e }",
        "export function odd() { const e = new Error('odd'); e.fn = () => 1; e.__proto__x = 1; throw e }",
      ].join('\n'),
    )
    const range = await mod.fail().then(
      () => undefined,
      (error: unknown) => error as Error,
    )
    expect(range).toBeInstanceOf(RangeError)
    expect(range?.message).toBe('too big')
    expect(range?.cause).toBeInstanceOf(TypeError)
    expect((range?.cause as Error).message).toBe('inner')
    expect((range?.cause as Error).cause).toBe('root')
    expect(range?.stack).toBe('RangeError: too big') // not the worker's stack
    await expect(mod.custom()).rejects.toMatchObject({
      name: 'HttpError',
      message: 'not found',
      status: 404,
      code: 'E_HTTP',
      detail: { path: '/x' },
    })
    // A field that cannot be cloned is left out; the error still arrives.
    const odd = await mod.odd().then(
      () => undefined,
      (error: unknown) => error as Error & { fn?: unknown; __proto__x?: unknown },
    )
    expect(odd?.message).toBe('odd')
    expect(odd?.fn).toBeUndefined()
    expect(odd?.__proto__x).toBe(1)
  })

  test('memoryMb caps the heap: running out rejects ERR_TOO_LARGE', async () => {
    const mod = await start<{ hog(): number }>(
      'export function hog() { const kept = []; for (;;) kept.push(new Array(1e5).fill(kept.length)) }',
      { memoryMb: 32, timeoutMs: 20_000 },
    )
    await expect(mod.hog()).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
  })

  test('dispose() rejects pending calls and later ones with ERR_CLOSED', async () => {
    const mod = await start<{ wait(): Promise<void>; ok(): number }>(
      'export function wait() { return new Promise(() => {}) }\nexport function ok() { return 3 }',
    )
    const pending = mod.wait()
    expect(await mod.ok()).toBe(3)
    mod.dispose()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    await expect(mod.ok()).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    mod.dispose() // idempotent
  })

  test('callbacks, `new` and writes are refused at the call; the module keeps serving', async () => {
    type Mod = {
      typeOf(value: unknown): string
      Box: new () => { hang(): Promise<void> }
      n: number
      obj: { x: number }
    }
    const mod = await start<Mod>(
      [
        'export function typeOf(value) { return typeof value }',
        'export class Box { hang() { return new Promise(() => {}) } }',
        'export let n = 1',
        'export const obj = { x: 1 }',
      ].join('\n'),
    )
    // A Comlink proxy would give the module the host's Function through `cb.constructor`.
    await expect(mod.typeOf(Comlink.proxy(() => 1))).rejects.toMatchObject({
      code: 'ERR_UNSERIALIZABLE',
    })
    // A function nested in an argument cannot be cloned: a coded rejection, not a DataCloneError.
    await expect(mod.typeOf({ nested: () => 1 })).rejects.toMatchObject({
      code: 'ERR_UNSERIALIZABLE',
      message: expect.stringMatching(/cannot be sent to a code object/),
    })
    // `new` would answer with a proxy on a port of its own, outside timeouts and dispose().
    await expect(new mod.Box()).rejects.toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    // Comlink sends writes without holding their promise: refused here as a TypeError, never an
    // unhandled rejection. (The types already refuse them; plain JavaScript callers do not.)
    const untyped = mod as unknown as { n: number; obj: { x?: number } }
    expect(() => (untyped.n = 5)).toThrow(/read-only here: 'n' cannot be assigned/)
    expect(() => (untyped.obj.x = 5)).toThrow(TypeError)
    expect(() => delete untyped.obj.x).toThrow(TypeError)
    expect(await mod.n).toBe(1)
    expect((await mod.obj).x).toBe(1)
    expect(await mod.typeOf(1)).toBe('number')
  })

  test('printing, stringifying or converting a running module sends nothing to its worker', async () => {
    const mod = await start<{ obj: { x: number }; twice(n: number): number }>(
      'export const obj = { x: 1 }\nexport function twice(n) { return 2 * n }',
    )
    // Each of these used to send a call the worker failed, with no one holding its promise: an
    // unhandled rejection, which ends a Node process.
    expect(inspect(mod)).toMatch(/^\[code object .*: obj, twice\]$/)
    expect(String(mod)).toMatch(/^\[code object /)
    expect(JSON.stringify(mod)).toBeUndefined() // a function-like proxy, as JSON gives for functions
    expect(inspect(mod.obj)).toMatch(/^\[a value of code object /)
    expect(`${mod.obj}`).toMatch(/^\[a value of code object /)
    expect(JSON.stringify({ value: mod.obj })).toBe('{}')
    expect((mod as unknown as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined()
    expect(await mod.twice(2)).toBe(4)
  })

  test('closing the service while a module is still loading stops its worker and rejects run()', async () => {
    // A host that tells when the module was sent to its worker, and when the worker was stopped.
    const inner = new NodeWorkerHost()
    let loading!: () => void
    const sent = new Promise<void>((resolve) => (loading = resolve))
    let terminated = false
    const host: WorkerHost = {
      async start(options) {
        const handle = await inner.start(options)
        const post = handle.port.postMessage.bind(handle.port)
        handle.port.postMessage = ((message: unknown, transfer: Transferable[]) => {
          post(message, transfer)
          loading()
        }) as MessagePort['postMessage']
        return {
          port: handle.port,
          stopped: handle.stopped,
          keepAlive: (active) => handle.keepAlive?.(active),
          terminate: () => {
            terminated = true
            handle.terminate()
          },
        }
      },
    }
    const code = new CodeService({ codec: new Codec(), host })
    const id = await code.publish('for (;;) {}')
    const run = code.run(id, { timeoutMs: Infinity })
    await sent
    code.close(new PeerjectError('ERR_CLOSED', 'you left the room'))
    await expect(run).rejects.toMatchObject({ code: 'ERR_CLOSED', message: 'you left the room' })
    expect(terminated).toBe(true)
  })

  test('a prewarmed host gives every run a fresh worker of its own', async () => {
    const host = new NodeWorkerHost({ prewarm: true })
    const code = new CodeService({ codec: new Codec(), host })
    const id = await code.publish('let count = 0\nexport function next() { return ++count }')
    const first = await code.run<{ next(): number }>(id)
    const second = await code.run<{ next(): number }>(id)
    running.push(first, second)
    expect([await first.next(), await first.next(), await second.next()]).toEqual([1, 2, 1])
    host.close()
  })
})
