/**
 * The Node {@link WorkerHost}: one `worker_threads` Worker per running code object. Node-only: only
 * the Node entry may import this file.
 *
 * What the worker is given (docs/security.md, "Node"):
 * - the permission model in the worker's own `execArgv` (`--permission`, or
 *   `--experimental-permission` on Node 20): no file system, no child processes, no workers, no
 *   addons;
 * - code objects linked as `vm.SourceTextModule`s (`--experimental-vm-modules`) that can resolve
 *   nothing but their `peerject:<id>` dependencies, statically or through `import()`, so
 *   `import('node:' + 'fs')`, bare packages, files and URLs all fail. (A module-loader hook did this
 *   before; on Node 20 it needs a hooks thread of its own, which doubled a worker's start.)
 * - `process`, `Buffer` and the network globals removed; MessagePort's prototype chain frozen, so
 *   Node's own calls on the worker's internal port cannot be intercepted;
 * - `resourceLimits` from `memoryMb`, an empty `env`, no `argv`.
 * This is defence in depth, not a security boundary against a determined attacker.
 */
import { Worker, type MessagePort as NodeMessagePort } from 'node:worker_threads'

import { PeerjectError } from '../errors.js'
import { COMLINK_SOURCE } from './worker/comlink-source.js'
import { RUNTIME_SOURCE } from './worker/runtime.js'
import type { WorkerHandle, WorkerHost, WorkerStartOptions } from './worker-host.js'

/** Default heap cap of a code object's worker, in MiB. */
export const DEFAULT_MEMORY_MB = 256

/**
 * The worker's bootstrap. Comlink (trusted, vendored) is imported from a `data:` URL before
 * anything else; code objects are then linked and evaluated as `vm.SourceTextModule`s whose only
 * resolvable specifiers are the `peerject:<id>` dependencies loaded before them — static imports
 * through `link`, `import()` through `importModuleDynamically` (which V8 also uses for `import()`
 * inside `eval` and `new Function` code of those modules). Everything else is refused.
 * Hazard: its `peerject:<id>` pattern must agree with `DEPENDENCY_SPECIFIER` in code-id.ts.
 */
const BOOTSTRAP = `import { workerData } from 'node:worker_threads'
import vm from 'node:vm'
const refuse = (specifier) => {
  throw new Error("code objects may import only 'peerject:<id>' dependencies; '" + String(specifier).slice(0, 100) + "' is refused")
}
const Comlink = await import('data:text/javascript;base64,' + Buffer.from(${JSON.stringify(COMLINK_SOURCE)}, 'utf8').toString('base64'))
const load = async (modules, entry) => {
  const loaded = new Map()
  const lookup = (from, specifier) => {
    const match = /^peerject:([0-9a-f]{64})$/.exec(specifier)
    if (match === null) refuse(specifier)
    const found = loaded.get(match[1])
    if (found === undefined) throw new Error('code object ' + from.slice(0, 8) + "… imports 'peerject:" + match[1] + "', which was not loaded")
    return found
  }
  for (const { id, source } of modules) {
    const module = new vm.SourceTextModule(source, {
      identifier: 'peerject:' + id,
      importModuleDynamically: async (specifier) => {
        const found = lookup(id, specifier)
        if (found.status !== 'evaluated') await found.evaluate()
        return found
      },
    })
    await module.link((specifier) => lookup(id, specifier))
    loaded.set(id, module)
  }
  const main = loaded.get(entry)
  await main.evaluate()
  return main.namespace
}
const report = (what) => (error) => console.error('peerject: ' + what + ' in a code object:', error)
process.on('uncaughtException', report('uncaught exception'))
process.on('unhandledRejection', report('unhandled rejection'))
for (const name of ['process', 'Buffer', 'global']) {
  delete globalThis[name]
  if (name in globalThis) throw new Error('cannot remove the global ' + name)
}
// Node's console holds the worker's stdio streams (console._stdout), whose internal port talks to
// the host's worker machinery: the code object gets a console of plain forwarding functions.
const realConsole = console
const safeConsole = Object.create(null)
for (const key of Object.keys(realConsole)) {
  const method = realConsole[key]
  if (typeof method === 'function') safeConsole[key] = (...args) => Reflect.apply(method, realConsole, args)
}
Object.defineProperty(globalThis, 'console', { value: Object.freeze(safeConsole), writable: false, configurable: false, enumerable: false })
// Node's internals post on the worker's internal port (stdio, warnings, errors) with method calls
// that look up MessagePort's prototype chain: a code object that replaced postMessage there would
// receive that port and could post messages the host's worker machinery asserts on (crashing the
// host process). The chain below Object.prototype is frozen before any code object runs.
for (let proto = MessagePort.prototype; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) Object.freeze(proto)
await (${RUNTIME_SOURCE})(workerData.port, { Comlink, load })
`

/** Options of {@link NodeWorkerHost}. */
export interface NodeWorkerHostOptions {
  /**
   * Keep one booted worker (of the default `memoryMb`) ready, so `run()` skips the boot (about
   * 30 ms here, most of a cold start). A spare is used by exactly one code object, never reused.
   * It does not keep the process alive; `close()` ends it. Default false.
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
  // vm.SourceTextModule, the code objects' linker (see BOOTSTRAP).
  const args: string[] = ['--experimental-vm-modules']
  const permission = ['--permission', '--experimental-permission'].find((flag) => allowed.has(flag))
  if (permission !== undefined) args.push(permission)
  if (allowed.has('--disable-warning')) {
    args.push('--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning')
  }
  return args
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
