/**
 * Running a verified code object (issue item 5): start a worker through a {@link WorkerHost}, send it
 * the modules, wait for `ready`, and return a Comlink `Remote` of its exports plus `dispose()`.
 *
 * Lifecycle and errors:
 * - loading (including `setup(capabilities)`) and every call are limited by `timeoutMs`; when one
 *   runs over, the worker is terminated, whatever is pending rejects `ERR_TIMEOUT`, later calls
 *   reject `ERR_CLOSED`;
 * - a syntax or evaluation error, or a throwing `setup`, rejects `ERR_CODE_LOAD` with the module's
 *   own error name and message;
 * - the worker dying on its own (out of memory: `ERR_TOO_LARGE`; crash) rejects what is pending with
 *   that error, later calls with `ERR_CLOSED`;
 * - `dispose()` terminates; pending and later calls reject `ERR_CLOSED`.
 * Node: an idle code object does not keep the process alive; one with a call pending does.
 */
import * as Comlink from 'comlink'

import { isPeerjectError, PeerjectError } from '../errors.js'
import { shortId } from './code-id.js'
import { CallGuard, CapabilityGate } from './endpoints.js'
import { DEFAULT_RUN_TIMEOUT_MS, MAX_ERROR_MESSAGE } from './protocol.js'
import type { FetchedCode, RunOptions, RunningCode } from './types.js'
import type { WorkerHandle, WorkerHost } from './worker-host.js'
import { isTimerDelay } from '../timers.js'

/** Extra hooks for the owner of running code objects (the service). */
export interface RunHooks {
  /**
   * Called once its worker has started, with a function that stops it while it is still loading:
   * `runCode` then rejects with the given error.
   */
  readonly onStart?: (stop: (error: PeerjectError) => void) => void
  /** Called once when the code object stops for any reason. */
  readonly onStop?: () => void
}

/** Starts `code` in a new worker of `host`. */
export async function runCode<T>(
  host: WorkerHost,
  code: FetchedCode,
  options: RunOptions = {},
  hooks: RunHooks = {},
): Promise<RunningCode<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    throw new PeerjectError(
      'ERR_CODE_LOAD',
      `timeoutMs must be a positive number, got ${timeoutMs}`,
    )
  }
  const label = shortId(code.id, code.metadata.name)
  const handle = await host.start({
    ...(options.memoryMb === undefined ? {} : { memoryMb: options.memoryMb }),
    name: `peerject ${label}`,
  })

  const exportsChannel = new MessageChannel()
  const capabilityChannel = options.capabilities === undefined ? undefined : new MessageChannel()
  let gate: CapabilityGate | undefined
  let stopped = false
  const stop = (error: PeerjectError, later: PeerjectError): void => {
    if (stopped) return
    stopped = true
    guard.close(error, later)
    gate?.close()
    handle.terminate()
    exportsChannel.port1.close()
    hooks.onStop?.()
  }
  const guard = new CallGuard(exportsChannel.port1, {
    timeoutMs,
    onTimeout: () =>
      stop(
        new PeerjectError(
          'ERR_TIMEOUT',
          `a call to code object ${label} did not return within timeoutMs (${timeoutMs} ms), so its worker was terminated; raise timeoutMs in run() for longer work`,
        ),
        closedError(label, 'was terminated after a call timed out; run it again'),
      ),
    onBusy: (busy) => {
      setRef(exportsChannel.port1, busy)
      handle.keepAlive?.(busy)
    },
  })
  setRef(exportsChannel.port1, false)
  if (capabilityChannel !== undefined) {
    gate = new CapabilityGate(capabilityChannel.port1)
    Comlink.expose(options.capabilities, gate)
    setRef(capabilityChannel.port1, false)
  }
  void handle.stopped.then((error) => stop(error, closedError(label, `stopped: ${error.message}`)))
  let abortLoad: (error: PeerjectError) => void = () => undefined
  const aborted = new Promise<never>((_, reject) => (abortLoad = reject))
  aborted.catch(() => undefined) // only observed while loading
  hooks.onStart?.((error) => {
    abortLoad(error)
    stop(error, error)
  })

  let exportTypes: Readonly<Record<string, string>>
  try {
    exportTypes = await Promise.race([
      load(handle, code, label, timeoutMs, exportsChannel.port2, capabilityChannel?.port2),
      aborted,
    ])
  } catch (error) {
    const failure = isPeerjectError(error)
      ? error
      : new PeerjectError('ERR_CODE_LOAD', `code object ${label} could not be sent to its worker`, {
          cause: error,
        })
    stop(failure, failure)
    throw failure
  }
  const remote = Comlink.wrap<T>(guard)
  const dispose = (): void =>
    stop(closedError(label, 'was disposed'), closedError(label, 'was disposed'))
  // Every export is listed (unless there are more than MAX_EXPORTS): a name that is not one is a
  // coded error here, not a TypeError from inside Comlink's worker side.
  const complete = Object.keys(exportTypes).length < MAX_EXPORTS
  const description = `[code object ${label}: ${Object.keys(exportTypes).join(', ') || 'no exports'}]`
  const proxied = remote as unknown as Record<string | symbol, unknown>
  const members = new Map<string | symbol, unknown>()
  return new Proxy(shell(description), {
    get: (_shell, property) => {
      if (property === 'dispose') return dispose
      if (property === 'exportTypes') return exportTypes
      if (isLocalMember(property) && !(property in exportTypes)) {
        return localMember(proxied, property, description)
      }
      if (
        complete &&
        typeof property === 'string' &&
        property !== 'then' &&
        !(property in exportTypes)
      ) {
        return missingExport(label, property, exportTypes)
      }
      return member(members, proxied, property, label)
    },
    set: (_shell, property) => refuseWrite(label, property),
    deleteProperty: (_shell, property) => refuseWrite(label, property),
  }) as unknown as RunningCode<T>
}

/**
 * The wrapped Comlink proxy for `parent[property]`, made once per path: a call costs a map lookup,
 * not a new proxy. `then` is never cached: reading it is what sends Comlink's GET.
 */
function member(
  members: Map<string | symbol, unknown>,
  parent: Record<string | symbol, unknown>,
  property: string | symbol,
  label: string,
): unknown {
  if (property === 'then') return readOnly(parent[property], label)
  let wrapped = members.get(property)
  if (wrapped === undefined) {
    wrapped = readOnly(parent[property], label)
    members.set(property, wrapped)
  }
  return wrapped
}

/**
 * The target of the proxies handed to the caller: a function of our own, not Comlink's proxy,
 * because Node's `util.inspect` (console.log) looks at a proxy's target directly, and Comlink's
 * would turn that look into a call to the worker. It describes itself for inspection and string
 * conversion; every other operation goes through the handler to Comlink.
 */
function shell(description: string): () => void {
  const target = function codeObject(): void {}
  Object.defineProperty(target, INSPECT, { value: () => description, configurable: true })
  Object.defineProperty(target, Symbol.toPrimitive, {
    value: () => description,
    configurable: true,
  })
  return target
}

/**
 * Comlink's proxy for a path below the exports, with writes refused. Comlink sends an assignment
 * without anyone holding its promise, so its failure (a module namespace is read-only) would be an
 * unhandled rejection, which ends a Node process; refusing it here makes it a TypeError at the
 * assignment instead. `then` (awaiting a read) is passed through as is.
 */
function readOnly(value: unknown, label: string): unknown {
  if (typeof value !== 'function') return value
  const path = value as ((...args: unknown[]) => unknown) & Record<string | symbol, unknown>
  const description = `[a value of code object ${label}]`
  const members = new Map<string | symbol, unknown>()
  return new Proxy(shell(description), {
    get: (_shell, property) => {
      if (isLocalMember(property)) return localMember(path, property, description)
      return property === 'then' ? path[property] : member(members, path, property, label)
    },
    apply: (_shell, thisArg, args) => Reflect.apply(path, thisArg, args),
    construct: (_shell, args) => Reflect.construct(path, args) as object,
    set: (_shell, property) => refuseWrite(label, property),
    deleteProperty: (_shell, property) => refuseWrite(label, property),
  })
}

/** Node's `util.inspect.custom` (a registered symbol, so no import of node:util). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * Members answered here, never sent to the worker: symbols (inspection, conversion to a string,
 * iteration — a call Comlink sent for them would fail in the worker with no one holding its
 * promise, an unhandled rejection that ends a Node process) and `toJSON`, which
 * `JSON.stringify` calls. Comlink's own symbols (`releaseProxy`, `createEndpoint`) go to Comlink.
 */
function isLocalMember(property: string | symbol): boolean {
  return typeof property === 'symbol' || property === 'toJSON'
}

function localMember(
  comlinkProxy: Record<string | symbol, unknown>,
  property: string | symbol,
  description: string,
): unknown {
  if (property === Comlink.releaseProxy || property === Comlink.createEndpoint) {
    return comlinkProxy[property]
  }
  if (property === INSPECT || property === Symbol.toPrimitive) return () => description
  return undefined
}

function refuseWrite(label: string, property: string | symbol): never {
  throw new TypeError(
    `code object ${label} is read-only here: '${String(property)}' cannot be assigned or deleted; export a function that changes its state`,
  )
}

/** What `running.name` is when the module has no export `name`: calling or awaiting it rejects. */
function missingExport(
  label: string,
  name: string,
  exportTypes: Readonly<Record<string, string>>,
): unknown {
  const names = Object.keys(exportTypes)
  const fail = (): Promise<never> =>
    Promise.reject(
      new PeerjectError(
        'ERR_NOT_FOUND',
        `code object ${label} has no export "${name.slice(0, 80)}"; its exports: ${names.length === 0 ? 'none' : names.join(', ')}`,
      ),
    )
  return new Proxy(fail, {
    get: (_target, key) =>
      key === 'then'
        ? (onFulfilled?: (value: never) => unknown, onRejected?: (reason: unknown) => unknown) =>
            fail().then(onFulfilled, onRejected)
        : undefined,
  })
}

/** Sends the modules and waits for the runtime's answer; resolves with the export types. */
async function load(
  handle: WorkerHandle,
  code: FetchedCode,
  label: string,
  timeoutMs: number,
  exportsPort: MessagePort,
  capabilityPort: MessagePort | undefined,
): Promise<Readonly<Record<string, string>>> {
  const answer = await new Promise<unknown>((resolve, reject) => {
    const timer = isTimerDelay(timeoutMs)
      ? setTimeout(
          () =>
            reject(
              new PeerjectError(
                'ERR_TIMEOUT',
                `code object ${label} did not load within timeoutMs (${timeoutMs} ms); raise timeoutMs in run()`,
              ),
            ),
          timeoutMs,
        )
      : undefined
    void handle.stopped.then((error) => {
      clearTimeout(timer)
      // A worker that exits by itself while loading ran out of things to do: in Node, a top-level
      // await that can never settle.
      reject(
        error.code === 'ERR_CLOSED'
          ? new PeerjectError(
              'ERR_CODE_LOAD',
              `code object ${label} stopped before it finished loading (${error.message}): does it await something at top level that never settles?`,
              { cause: error },
            )
          : error,
      )
    })
    handle.port.onmessage = (event: MessageEvent) => {
      clearTimeout(timer)
      resolve(event.data)
    }
    const transfer: Transferable[] = [exportsPort]
    if (capabilityPort !== undefined) transfer.push(capabilityPort)
    handle.port.postMessage(
      {
        type: 'load',
        modules: code.modules.map(({ id, source }) => ({ id, source })),
        entry: code.id,
        exports: exportsPort,
        ...(capabilityPort === undefined ? {} : { capabilities: capabilityPort }),
      },
      transfer,
    )
  }).finally(() => {
    handle.port.onmessage = null
    handle.port.close()
  })
  const { type, stage, name, message, exports, types } = (answer ?? {}) as Record<string, unknown>
  if (type === 'ready') return exportTypesOf(exports, types)
  if (type !== 'failed') {
    throw new PeerjectError(
      'ERR_CODE_LOAD',
      `code object ${label}: unexpected answer from its worker`,
    )
  }
  const what = `${clip(name)}: ${clip(message)}`
  throw new PeerjectError(
    'ERR_CODE_LOAD',
    stage === 'setup'
      ? `setup(capabilities) of code object ${label} failed: ${what}`
      : `code object ${label} failed to load: ${what}`,
  )
}

/** Most export names reported to the caller (a module with more still runs; the rest are left out). */
const MAX_EXPORTS = 1024

/** `{ name: typeof value }` from the runtime's parallel arrays, ignoring anything malformed. */
function exportTypesOf(names: unknown, types: unknown): Readonly<Record<string, string>> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>
  if (!Array.isArray(names) || !Array.isArray(types)) return Object.freeze(result)
  for (let i = 0; i < Math.min(names.length, types.length, MAX_EXPORTS); i++) {
    const [key, kind] = [names[i] as unknown, types[i] as unknown]
    if (typeof key === 'string' && typeof kind === 'string' && key.length <= MAX_ERROR_MESSAGE) {
      result[key] = kind.slice(0, 16)
    }
  }
  return Object.freeze(result)
}

function closedError(label: string, what: string): PeerjectError {
  return new PeerjectError('ERR_CLOSED', `code object ${label} ${what}`)
}

function clip(value: unknown): string {
  const text = String(value)
  return text.length > MAX_ERROR_MESSAGE ? `${text.slice(0, MAX_ERROR_MESSAGE)}…` : text
}

/** Node MessagePorts keep the process alive while referenced; browsers have no such notion. */
function setRef(port: MessagePort, on: boolean): void {
  const node = port as MessagePort & { ref?: () => void; unref?: () => void }
  if (on) node.ref?.()
  else node.unref?.()
}
