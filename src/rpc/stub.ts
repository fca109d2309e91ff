/**
 * Stubs: the local proxies of remote objects.
 *
 * A {@link Handle} is one import (an id in the peer's export table) or one local result; every
 * proxy of it holds it strongly, so the handle — and with it the remote export — lives while any
 * proxy does. A proxy is a {@link StubController}: the handle plus a property path plus call
 * options. Property access never sends anything; it makes a longer path. The operation at the end
 * decides what is sent: a call, `new`, an assignment, a delete, or a read (`then`).
 *
 * Thenable or not: a reference's root proxy (a function or object the peer sent, or what
 * `resolve(name)` returns) is NOT thenable, so it can be returned from async functions and
 * awaited without being read by value. Paths below it, and results of calls, ARE thenable:
 * awaiting one reads the value. `then`, `catch` and `finally` are therefore promise methods on
 * thenable proxies, and remote properties with those names are not reachable through them.
 *
 * An answer (the result of a call or `new`) starts remote: operations on it are pipelined to the
 * peer by its id before it resolves. Once its value arrives (it was awaited), the handle turns
 * local: later operations apply to the received value (forwarding to stubs inside it).
 *
 * Over 400 lines: Handle, its proxy and the lazy labels are one concept, kept together.
 */
import { BY_REFERENCE } from '../codec/index.js'
import { PeerjectError } from '../errors.js'
import { applyOperation, type LocalOperation } from './apply.js'
import { formatPath } from './authorizer.js'
import type { Path, PathKey } from './protocol.js'
import { isTimerDelay } from '../timers.js'

/** Answers with a stub's controller; how any peerject session recognises a stub. */
export const STUB: unique symbol = Symbol.for('peerject.stub')

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/** Per-operation options: see `withOptions`. */
export interface CallOptions {
  /** Rejects ERR_TIMEOUT when the reply has not arrived this many ms after the call was issued. */
  readonly timeoutMs?: number
  /** Rejects ERR_ABORTED when aborted before the reply arrives. */
  readonly signal?: AbortSignal
}

/** What a handle needs from its session to act remotely. */
export interface StubHost {
  /** Sends a get/set/delete on import `target`; resolves with the reply. */
  request(
    op: 'get' | 'set' | 'delete',
    target: Handle,
    path: Path,
    value: unknown,
    options: CallOptions | undefined,
  ): Promise<unknown>
  /** Issues a call or `new` on import `target`; returns the answer's handle. */
  issue(
    op: 'call' | 'new',
    target: Handle,
    path: Path,
    args: readonly unknown[],
    options: CallOptions | undefined,
  ): Handle
  /** Reads an answer's value (sends `pull`). */
  pull(answer: Handle): Promise<unknown>
  /** Drops the handle's import (sends `release`). */
  release(handle: Handle): void
  /** Reports a failure nobody awaits (fire-and-forget assignment or delete). */
  report(error: unknown, what: string): void
}

/**
 * A label for messages, built only when first read (most calls never need theirs): a string, or
 * `{ base, path, op }` standing for `base.path()` (op 'call') or `get base.path` (other ops).
 */
export type Label =
  | string
  | { readonly base: Label; readonly path: Path; readonly op: 'call' | 'get' | 'set' | 'delete' }

/** The text of `label`. */
export function labelText(label: Label): string {
  if (typeof label === 'string') return label
  const target = `${labelText(label.base)}${label.path.length === 0 ? '' : `.${formatPath(label.path)}`}`
  return label.op === 'call' ? `${target}()` : `${label.op} ${target}`
}

/** What a handle stands for. */
export type HandleKind = 'reference' | 'named' | 'answer' | 'local'

/** A settled local value. */
type Settled =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly value: unknown }

/** One import, or one local result, shared by all proxies of it. */
export class Handle {
  /** The import id while the handle is remote; undefined once local or dead. */
  id: number | undefined
  #local: Promise<unknown> | undefined
  #settled: Settled | undefined
  #dead: PeerjectError | undefined
  /**
   * The root proxy. Held strongly: the proxy holds this handle too, and the pair is collected
   * together (a WeakRef here cost more than a whole proxy, on every call's answer).
   */
  #root: object | undefined
  #pull: Promise<unknown> | undefined
  #label: Label

  constructor(
    /** The session that owns the import (undefined for purely local results). */
    readonly host: StubHost | undefined,
    readonly kind: HandleKind,
    /** Whether the root proxy is callable ('function') or an object ('object'). */
    readonly shape: 'function' | 'object',
    id: number | undefined,
    /** For messages: what this stands for (`counter`, `counter.add()`). */
    label: Label,
    /** Options the answer was issued with (its timeout covers the pull too). */
    readonly options?: CallOptions,
    /** When the answer must have arrived (Date.now() based), from `options.timeoutMs`. */
    readonly deadline?: number,
  ) {
    this.id = id
    this.#label = label
  }

  /** For messages: what this stands for (`counter`, `counter.add()`). */
  get label(): string {
    if (typeof this.#label !== 'string') this.#label = labelText(this.#label)
    return this.#label
  }

  /** The label, unbuilt (for labels of operations on this handle). */
  get labelSource(): Label {
    return this.#label
  }

  /** A local handle for a promise (results of operations on local values). */
  static local(promise: Promise<unknown>, label: Label): Handle {
    const handle = new Handle(undefined, 'local', 'function', undefined, label)
    handle.#becomeLocal(promise)
    return handle
  }

  /** Whether the root proxy is thenable. */
  get thenable(): boolean {
    return this.kind === 'answer' || this.kind === 'local'
  }

  /** Why the handle is unusable (released, or its session closed), or undefined. */
  get dead(): PeerjectError | undefined {
    return this.#dead
  }

  /** The settled local value, once the handle is local and settled. */
  get settled(): Settled | undefined {
    return this.#settled
  }

  /** The canonical root proxy (the same object while anything holds it). */
  root(): object {
    const existing = this.#root
    if (existing !== undefined) return existing
    const proxy = createProxy(new StubController(this, [], this.options))
    this.#root = proxy
    return proxy
  }

  /** Switches to local: the answer's value (or error) arrived. The first outcome wins. */
  settle(ok: boolean, value: unknown): void {
    this.id = undefined
    if (this.#isLocal()) return
    // The promise of it is made only if something asks (`#localValue`): most answers are
    // awaited once, through the pull's own promise.
    this.#settled = ok ? { ok: true, value } : { ok: false, value }
  }

  /** Marks the handle unusable: later operations reject with `error`. */
  kill(error: PeerjectError): void {
    if (this.#isLocal()) return
    this.#dead ??= error
    this.id = undefined
  }

  /** The value of a thenable root: the answer's value or the local result. */
  value(): Promise<unknown> {
    const local = this.#localValue()
    if (local !== undefined) return local
    if (this.#dead !== undefined) return Promise.reject(this.#dead)
    if (this.host === undefined) return Promise.resolve(undefined)
    this.#pull ??= this.host.pull(this)
    return this.#pull
  }

  /** Reads `path` (the root of a thenable handle reads its value). */
  read(path: Path, options: CallOptions | undefined): Promise<unknown> {
    if (path.length === 0 && this.thenable) {
      // A view with options of its own (`withOptions(result, …)`) bounds its own wait.
      const value = this.value()
      return options === undefined || options === this.options
        ? value
        : bounded(value, options, this.label)
    }
    return this.#remoteOrLocal('get', { op: 'get', path }, undefined, options) as Promise<unknown>
  }

  get(path: Path, options: CallOptions | undefined): Promise<unknown> {
    return this.read(path, options)
  }

  set(path: Path, value: unknown, options: CallOptions | undefined): Promise<unknown> {
    return this.#remoteOrLocal(
      'set',
      { op: 'set', path, value },
      value,
      options,
    ) as Promise<unknown>
  }

  delete(path: Path, options: CallOptions | undefined): Promise<unknown> {
    return this.#remoteOrLocal(
      'delete',
      { op: 'delete', path },
      undefined,
      options,
    ) as Promise<unknown>
  }

  call(path: Path, args: readonly unknown[], options: CallOptions | undefined): object {
    return this.#invoke('call', path, args, options)
  }

  construct(path: Path, args: readonly unknown[], options: CallOptions | undefined): object {
    return this.#invoke('new', path, args, options)
  }

  /** Releases the import now (idempotent; a local handle has nothing to release). */
  release(): void {
    if (this.#isLocal() || this.#dead !== undefined || this.host === undefined) return
    this.host.release(this)
  }

  #becomeLocal(promise: Promise<unknown>): void {
    promise.then(
      (value) => (this.#settled = { ok: true, value }),
      (error: unknown) => (this.#settled = { ok: false, value: error }),
    )
    this.#local = promise
  }

  #isLocal(): boolean {
    return this.#local !== undefined || this.#settled !== undefined
  }

  /** The local value as a promise (made on first use for a settled answer), or undefined. */
  #localValue(): Promise<unknown> | undefined {
    if (this.#local === undefined && this.#settled !== undefined) {
      const { ok, value } = this.#settled
      this.#local = ok ? Promise.resolve(value) : Promise.reject(value)
    }
    return this.#local
  }

  #remoteOrLocal(
    op: 'get' | 'set' | 'delete',
    local: LocalOperation,
    value: unknown,
    options: CallOptions | undefined,
  ): Promise<unknown> {
    // Settled: applied now, so the operation keeps its place among the caller's other operations
    // on the same object (through the awaited value, or this result).
    const settled = this.#settled
    if (settled !== undefined) return applyNow(settled, local, options)
    const root = this.#localValue()
    if (root !== undefined) return root.then((value) => applyOperation(value, local, options))
    if (this.#dead !== undefined || this.host === undefined) return Promise.reject(this.#dead)
    return this.host.request(op, this, local.path, value, options)
  }

  #invoke(
    op: 'call' | 'new',
    path: Path,
    args: readonly unknown[],
    options: CallOptions | undefined,
  ): object {
    const settled = this.#settled
    const local = settled === undefined ? this.#local : undefined
    if (settled !== undefined || local !== undefined) {
      const label: Label = { base: this.#label, path, op: 'call' }
      const operation: LocalOperation = { op: op === 'new' ? 'construct' : 'call', path, args }
      const result =
        settled === undefined
          ? (local as Promise<unknown>).then((root) => applyOperation(root, operation, options))
          : applyNow(settled, operation, options)
      return Handle.local(result, label).root()
    }
    if (this.#dead !== undefined || this.host === undefined) {
      const label: Label = { base: this.#label, path, op: 'call' }
      return Handle.local(Promise.reject(this.#dead), label).root()
    }
    return this.host.issue(op, this, path, args, options).root()
  }
}

/** One proxy's state: a handle, a path below it, and call options. */
export class StubController {
  #read: Promise<unknown> | undefined
  /**
   * The proxy of the last property read through this one, and its key: `api.echo(i)` in a loop
   * reuses one proxy of `api.echo` instead of making a proxy, a controller and a path per call.
   * A child that has been read (awaited) is not handed out again, so every `await api.count`
   * reads anew.
   */
  #childKey: string | undefined
  #child: StubController | undefined
  #childProxy: object | undefined

  constructor(
    readonly handle: Handle,
    readonly path: Path,
    readonly options: CallOptions | undefined,
  ) {}

  /** Whether this proxy is awaitable (reads its value). */
  get thenable(): boolean {
    return this.path.length > 0 || this.handle.thenable
  }

  /** Reads this proxy's value once; later `then`s share the read. */
  read(): Promise<unknown> {
    this.#read ??= this.handle.read(this.path, this.options)
    return this.#read
  }

  /** The proxy of property `key` below this one: the last one again when it was not read. */
  childProxy(key: string): object {
    const known = this.#child
    if (key === this.#childKey && known !== undefined && known.#read === undefined) {
      return this.#childProxy as object
    }
    const controller = child(this, key)
    const proxy = createProxy(controller)
    this.#childKey = key
    this.#child = controller
    this.#childProxy = proxy
    return proxy
  }

  /** Describes the proxy for messages and `util.inspect`. */
  describe(): string {
    return this.path.length === 0
      ? this.handle.label
      : `${this.handle.label}.${formatPath(this.path)}`
  }
}

/** The controller of `value` when it is a stub, else undefined. Never starts a remote call. */
export function controllerOf(value: unknown): StubController | undefined {
  if ((typeof value !== 'function' && typeof value !== 'object') || value === null) return undefined
  const controller = (value as { [STUB]?: unknown })[STUB]
  return controller instanceof StubController ? controller : undefined
}

/** Makes a proxy for `controller`. */
export function createProxy(controller: StubController): object {
  // Anonymous on purpose: a named function expression costs a defineProperty per proxy under
  // esbuild's keepNames (tsx, the bench), and the name is never seen (reads go to the peer).
  const target = isObjectShaped(controller) ? {} : function (): void {}
  return new Proxy(target, {
    get(_target, key) {
      if (typeof key === 'symbol') return symbolMember(controller, key)
      if (controller.thenable) {
        if (key === 'then') {
          return (onFulfilled?: unknown, onRejected?: unknown) =>
            controller.read().then(callback(onFulfilled), callback(onRejected))
        }
        if (key === 'catch')
          return (onRejected?: unknown) => controller.read().catch(callback(onRejected))
        if (key === 'finally') {
          return (onFinally?: unknown) =>
            controller.read().finally(callback(onFinally) as (() => void) | undefined)
        }
      } else if (key === 'then') {
        return undefined
      }
      return controller.childProxy(key)
    },
    set(_target, key, value) {
      if (typeof key === 'symbol') return false
      const inner = child(controller, key)
      controller.handle
        .set(inner.path, value, controller.options)
        .catch((error: unknown) =>
          controller.handle.host?.report(error, `assignment to ${inner.describe()}`),
        )
      return true
    },
    deleteProperty(_target, key) {
      if (typeof key === 'symbol') return false
      const inner = child(controller, key)
      controller.handle
        .delete(inner.path, controller.options)
        .catch((error: unknown) =>
          controller.handle.host?.report(error, `delete ${inner.describe()}`),
        )
      return true
    },
    apply(_target, _this, args: unknown[]) {
      return controller.handle.call(controller.path, args, controller.options)
    },
    construct(_target, args: unknown[]) {
      return controller.handle.construct(controller.path, args, controller.options)
    },
    has(_target, key) {
      return key === STUB || (key === BY_REFERENCE && isObjectShaped(controller))
    },
  })
}

/** Whether the proxy is an object (a received by-reference object's root), not a function. */
function isObjectShaped(controller: StubController): boolean {
  return controller.path.length === 0 && controller.handle.shape === 'object'
}

function symbolMember(controller: StubController, key: symbol): unknown {
  switch (key) {
    case STUB:
      return controller
    case BY_REFERENCE:
      // Callable stubs classify as 'function' (typeof), so they arrive callable on the next peer;
      // answering the marker would make the codec send them as objects, which arrive uncallable.
      return isObjectShaped(controller) ? true : undefined
    case Symbol.dispose:
      return () => controller.handle.release()
    case Symbol.toStringTag:
      return 'RemoteStub'
    case INSPECT:
      return () => `[RemoteStub ${controller.describe()}]`
    default:
      return undefined
  }
}

/** Canonical array-index strings become numbers, so `items[2]` and `items['2']` match. */
function toPathKey(key: string): PathKey {
  const first = key.charCodeAt(0)
  if (!(first >= 48 && first <= 57)) return key // not a digit: a name
  return /^(?:0|[1-9]\d{0,15})$/.test(key) && Number.isSafeInteger(Number(key)) ? Number(key) : key
}

function child(controller: StubController, key: string): StubController {
  return new StubController(
    controller.handle,
    [...controller.path, toPathKey(key)],
    controller.options,
  )
}

type Callback = ((value: unknown) => unknown) | undefined

function callback(value: unknown): Callback {
  return typeof value === 'function' ? (value as (value: unknown) => unknown) : undefined
}

/** Wraps an object so the encoder sends it by reference (results of `new`). */
export class ForceReference {
  constructor(readonly value: object) {}
  /** Makes the codec hand this wrapper to the export hook, which unwraps it. */
  get [BY_REFERENCE](): true {
    return true
  }
}

/** ERR_CLOSED for a released stub. */
export function releasedError(label: string): PeerjectError {
  return new PeerjectError(
    'ERR_CLOSED',
    `the stub ${label} was released; resolve the object again to get a new stub`,
  )
}

/**
 * `promise`, unless `options` end the wait first: ERR_TIMEOUT `timeoutMs` after now, ERR_ABORTED
 * when `signal` aborts. Nothing is cancelled on the peer (as for calls: docs/rpc.md).
 */
function bounded(promise: Promise<unknown>, options: CallOptions, label: string): Promise<unknown> {
  const { timeoutMs, signal } = options
  if ((timeoutMs === undefined || !isTimerDelay(timeoutMs)) && signal === undefined) return promise
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (settle: () => void): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      settle()
    }
    const onAbort = (): void =>
      finish(() =>
        reject(new PeerjectError('ERR_ABORTED', `${label} was aborted`, { cause: signal?.reason })),
      )
    if (signal?.aborted === true) {
      promise.catch(() => undefined) // nobody waits for it any more
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timeoutMs !== undefined && isTimerDelay(timeoutMs)) {
      timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new PeerjectError(
                'ERR_TIMEOUT',
                `${label} did not settle within ${timeoutMs} ms; raise timeoutMs in withOptions(stub, { timeoutMs })`,
              ),
            ),
          ),
        timeoutMs,
      )
    }
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    )
  })
}

/** Applies `operation` to a settled value now; the outcome as a promise. */
function applyNow(
  settled: Settled,
  operation: LocalOperation,
  options: CallOptions | undefined,
): Promise<unknown> {
  if (!settled.ok) return Promise.reject(settled.value)
  try {
    return Promise.resolve(applyOperation(settled.value, operation, options))
  } catch (error) {
    return Promise.reject(error)
  }
}
