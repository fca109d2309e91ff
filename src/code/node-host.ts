/**
 * The Node {@link WorkerHost}: one `worker_threads` Worker per running code object. Node-only: only
 * the Node entry may import this file.
 *
 * What the worker is given (docs/security.md, "Node"):
 * - the permission model in the worker's own `execArgv` (`--permission`, or
 *   `--experimental-permission` on Node 20): no file system, no child processes, no addons;
 * - a module-resolution hook, registered before any code object loads, that refuses every specifier
 *   but `data:text/javascript` URLs, so `import('node:' + 'fs')`, bare packages and files all fail;
 *   `module.registerHooks` runs it in the worker's thread where it exists (Node ≥ 22.15), else
 *   `module.register` runs it on a hooks thread (Node 20; that thread needs `--allow-worker`);
 * - `process`, `Buffer` and the network globals removed;
 * - `resourceLimits` from `memoryMb`, an empty `env`, no `argv`.
 * This is defence in depth, not a security boundary against a determined attacker.
 */
import * as nodeModule from 'node:module'
import { Worker, type MessagePort as NodeMessagePort } from 'node:worker_threads'

import { PeerjectError } from '../errors.js'
import { COMLINK_SOURCE } from './worker/comlink-source.js'
import { RUNTIME_SOURCE } from './worker/runtime.js'
import type { WorkerHandle, WorkerHost, WorkerStartOptions } from './worker-host.js'

/** Default heap cap of a code object's worker, in MiB. */
export const DEFAULT_MEMORY_MB = 256
/** Longest `data:` URL the Node worker builds for one module (64 MiB). */
const MAX_MODULE_URL = 64 * 1024 * 1024

/** Refuses every specifier but a `data:text/javascript` URL; shared by both hook flavours. */
const CHECK_SOURCE = String.raw`(specifier) => {
  if (typeof specifier === 'string' && specifier.startsWith('data:text/javascript')) return
  throw new Error("code objects may import only 'peerject:<id>' dependencies; '" + String(specifier).slice(0, 100) + "' is refused")
}`

/** The hooks module for `module.register` (Node 20). */
const HOOKS_MODULE = `const check = ${CHECK_SOURCE}
export async function resolve(specifier, context, nextResolve) {
  check(specifier)
  return nextResolve(specifier, context)
}`

const BOOTSTRAP = `import { workerData } from 'node:worker_threads'
import * as nodeModule from 'node:module'
const check = ${CHECK_SOURCE}
if (typeof nodeModule.registerHooks === 'function') {
  nodeModule.registerHooks({ resolve: (specifier, context, nextResolve) => { check(specifier); return nextResolve(specifier, context) } })
} else {
  nodeModule.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS_MODULE)}))
}
const NodeBuffer = Buffer
const moduleUrl = (source) => {
  const url = 'data:text/javascript;base64,' + NodeBuffer.from(source, 'utf8').toString('base64')
  if (url.length > ${MAX_MODULE_URL}) throw new RangeError('the dependency graph is too large to load in Node (a module URL exceeds 64 MiB): share fewer modules between dependencies')
  return url
}
const Comlink = await import(moduleUrl(${JSON.stringify(COMLINK_SOURCE)}))
const report = (what) => (error) => console.error('peerject: ' + what + ' in a code object:', error)
process.on('uncaughtException', report('uncaught exception'))
process.on('unhandledRejection', report('unhandled rejection'))
for (const name of ['process', 'Buffer', 'global']) {
  delete globalThis[name]
  if (name in globalThis) throw new Error('cannot remove the global ' + name)
}
await (${RUNTIME_SOURCE})(workerData.port, { Comlink, moduleUrl })
`

/** Options of {@link NodeWorkerHost}. */
export interface NodeWorkerHostOptions {
  /**
   * Keep one booted worker (of the default `memoryMb`) ready, so `run()` skips the boot — about
   * 30 ms on Node 20, where the module hook needs a thread of its own. A spare is used by exactly one
   * code object, never reused. It does not keep the process alive; `close()` ends it. Default false.
   */
  readonly prewarm?: boolean
}

/** The Node worker-thread host. */
export class NodeWorkerHost implements WorkerHost {
  readonly #url = new URL(`data:text/javascript,${encodeURIComponent(BOOTSTRAP)}`)
  readonly #execArgv = workerExecArgv()
  readonly #prewarm: boolean
  #spare: { readonly handle: WorkerHandle; dead: boolean } | undefined
  #closed = false

  constructor(options: NodeWorkerHostOptions = {}) {
    this.#prewarm = options.prewarm ?? false
  }

  /** Starts a worker thread (or hands out the prewarmed one); see the file comment. */
  async start(options: WorkerStartOptions): Promise<WorkerHandle> {
    const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB
    if (!(Number.isFinite(memoryMb) && memoryMb >= 8)) {
      throw new PeerjectError('ERR_CODE_LOAD', `memoryMb must be a number ≥ 8, got ${memoryMb}`)
    }
    if (!this.#prewarm || memoryMb !== DEFAULT_MEMORY_MB) return this.#spawn(memoryMb, options.name)
    const spare = this.#spare
    this.#spare = undefined
    const handle =
      spare !== undefined && !spare.dead ? spare.handle : this.#spawn(memoryMb, options.name)
    if (!this.#closed) {
      const next = { handle: this.#spawn(DEFAULT_MEMORY_MB, 'peerject spare'), dead: false }
      void next.handle.stopped.then(() => (next.dead = true))
      this.#spare = next
    }
    return handle
  }

  /** Ends the prewarmed worker, if any; later starts spawn on demand. Running workers are untouched. */
  close(): void {
    this.#closed = true
    this.#spare?.handle.terminate()
    this.#spare = undefined
  }

  #spawn(memoryMb: number, name: string | undefined): WorkerHandle {
    const { port1, port2 } = new MessageChannel()
    let worker: Worker
    try {
      worker = new Worker(this.#url, {
        execArgv: this.#execArgv,
        argv: [],
        env: {},
        stdin: false,
        // A structured-clone transfer of a global MessageChannel port (same class in Node).
        workerData: { port: port2 },
        transferList: [port2 as unknown as NodeMessagePort],
        resourceLimits: {
          maxOldGenerationSizeMb: memoryMb,
          maxYoungGenerationSizeMb: Math.min(32, Math.max(1, Math.ceil(memoryMb / 8))),
        },
        ...(name === undefined ? {} : { name }),
      })
    } catch (error) {
      port1.close()
      throw new PeerjectError(
        'ERR_CODE_LOAD',
        `cannot start a worker thread for a code object (${describe(error)}); under Node's permission model, start Node with --allow-worker`,
        { cause: error },
      )
    }
    worker.unref()
    let terminated = false
    const stopped = new Promise<PeerjectError>((resolve) => {
      worker.once('error', (error) => {
        if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
          resolve(
            new PeerjectError(
              'ERR_TOO_LARGE',
              `the code object ran out of memory (memoryMb ${memoryMb}); raise memoryMb in run()`,
              { cause: error },
            ),
          )
        } else {
          resolve(
            new PeerjectError(
              'ERR_CODE_LOAD',
              `the code object's worker failed: ${describe(error)}`,
              {
                cause: error,
              },
            ),
          )
        }
      })
      worker.once('exit', (code) => {
        if (!terminated) {
          resolve(new PeerjectError('ERR_CLOSED', `the code object's worker exited (code ${code})`))
        }
      })
    })
    return {
      port: port1,
      stopped,
      terminate: () => {
        if (terminated) return
        terminated = true
        port1.close()
        void worker.terminate()
      },
      keepAlive: (active) => {
        if (terminated) return
        if (active) worker.ref()
        else worker.unref()
      },
    }
  }
}

/** Node flags for the worker, limited to those this Node accepts. */
function workerExecArgv(): string[] {
  const allowed = process.allowedNodeEnvironmentFlags
  const args: string[] = []
  const permission = ['--permission', '--experimental-permission'].find((flag) => allowed.has(flag))
  if (permission !== undefined) {
    args.push(permission)
    // module.register (Node < 22.15) runs its hooks on a thread of their own.
    if (!('registerHooks' in nodeModule)) args.push('--allow-worker')
  }
  if (allowed.has('--disable-warning')) {
    args.push('--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning')
  }
  return args
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
