/**
 * The import side of a session: what this peer holds of the other (references it received, the
 * answers of calls it issued), the requests waiting for replies, and release.
 *
 * Release rules (docs/rpc.md, "Lifetime"): an import record counts how many times the peer sent
 * its id. When the last proxy of the handle goes away — `release(stub)`, `stub[Symbol.dispose]()`,
 * or the FinalizationRegistry noticing it was collected — the record is deleted and
 * `['release', id, count]` is sent. The exporter subtracts `count`, so an id it re-sent while the
 * release was in flight stays alive. An answer is released as soon as its value has arrived
 * (later operations on it apply to the local value).
 */
import { PeerjectError } from '../errors.js'
import { formatPath } from './authorizer.js'
import type { RpcLimits } from './limits.js'
import type { Path } from './protocol.js'
import { Handle, releasedError, type CallOptions, type StubHost } from './stub.js'

/** Held value given to the finalization registry for one import. */
export interface FinalizerToken {
  readonly id: number
  readonly generation: number
}

/** The part of `FinalizationRegistry` the session uses (injectable for tests). */
export interface FinalizerLike {
  register(target: object, held: FinalizerToken, unregisterToken: object): void
  unregister(unregisterToken: object): void
}

/** Makes the registry that releases collected stubs; `cleanup` runs for each one. */
export type FinalizerFactory = (cleanup: (held: FinalizerToken) => void) => FinalizerLike

/** The default: a real FinalizationRegistry (none where the runtime lacks it). */
export const defaultFinalizer: FinalizerFactory = (cleanup) =>
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<FinalizerToken>(cleanup)
    : { register: () => undefined, unregister: () => undefined }

/** What the importer needs from its session. */
export interface ImporterIO {
  readonly peer: string
  readonly limits: RpcLimits
  /** Encodes and sends `message`; `onFailure` runs when it could not be sent. */
  post(message: readonly unknown[], onFailure?: (error: PeerjectError) => void): void
  /** Reports a failure nobody awaits. */
  report(error: PeerjectError): void
}

interface ImportRecord {
  readonly id: number
  count: number
  handle: WeakRef<Handle> | undefined
  generation: number
}

interface Waiter {
  settle(ok: boolean, value: unknown): void
}

/** Import table, pending replies and id allocation of one session. */
export class Importer implements StubHost {
  readonly #io: ImporterIO
  readonly #records = new Map<number, ImportRecord>()
  readonly #waiters = new Map<number, Waiter>()
  readonly #finalizer: FinalizerLike
  #nextId = 1
  #closed: PeerjectError | undefined

  constructor(io: ImporterIO, finalizer: FinalizerFactory) {
    this.#io = io
    this.#finalizer = finalizer((held) => this.#collected(held))
  }

  /** Imports held (records not yet released). */
  get size(): number {
    return this.#records.size
  }

  /** Requests and pulls waiting for a reply. */
  get pending(): number {
    return this.#waiters.size
  }

  /** `resolve(name)`: a named import, pipelined (no reply unless used). */
  resolve(name: string): object {
    if (this.#closed !== undefined) return this.#deadHandle('named', name, this.#closed).root()
    const id = this.#nextId++
    const handle = this.#track(id, 'named', 'function', name, undefined)
    this.#io.post(['resolve', id, name], (error) => this.#unsent(id, handle, error))
    return handle.root()
  }

  /** `list()`: the names the peer exposes. */
  list(): Promise<unknown> {
    return this.#request(['list'], undefined, 'list()')
  }

  /** The import hook: the peer sent its export `id` (id < 0) inside a value. */
  receive(id: number, shape: 'function' | 'object'): object {
    if (this.#closed !== undefined)
      return this.#deadHandle('reference', 'a reference', this.#closed).root()
    const record = this.#records.get(id)
    if (record !== undefined) {
      record.count++
      const live = record.handle?.deref()
      if (live !== undefined) return live.root()
      return this.#attach(record, shape, `reference ${id} from peer ${this.#io.peer}`).root()
    }
    if (this.#records.size >= this.#io.limits.maxImports) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `peer ${this.#io.peer} sent more than ${this.#io.limits.maxImports} references; raise limits.maxImports or release stubs`,
      )
    }
    const created: ImportRecord = { id, count: 1, handle: undefined, generation: 0 }
    this.#records.set(id, created)
    return this.#attach(created, shape, `reference ${id} from peer ${this.#io.peer}`).root()
  }

  request(
    op: 'get' | 'set' | 'delete',
    target: Handle,
    path: Path,
    value: unknown,
    options: CallOptions | undefined,
  ): Promise<unknown> {
    const id = target.id
    if (id === undefined) return Promise.reject(target.dead ?? releasedError(target.label))
    const message = op === 'set' ? [op, id, path, value] : [op, id, path]
    const label = `${op} ${target.label}${path.length === 0 ? '' : `.${formatPath(path)}`}`
    return this.#request(message, options, label)
  }

  issue(
    op: 'call' | 'new',
    target: Handle,
    path: Path,
    args: readonly unknown[],
    options: CallOptions | undefined,
  ): Handle {
    const label = `${target.label}${path.length === 0 ? '' : `.${formatPath(path)}`}()`
    const failed = this.#closed ?? target.dead ?? aborted(options, label)
    if (failed !== undefined || target.id === undefined) {
      return this.#deadHandle('answer', label, failed ?? releasedError(target.label))
    }
    const id = this.#nextId++
    const deadline = options?.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs
    const handle = this.#track(id, 'answer', 'function', label, options, deadline)
    this.#io.post([op, id, target.id, path, args], (error) => this.#unsent(id, handle, error))
    return handle
  }

  pull(answer: Handle): Promise<unknown> {
    const id = answer.id
    if (id === undefined) return Promise.reject(answer.dead ?? releasedError(answer.label))
    return new Promise((resolve, reject) => {
      const done = (ok: boolean, value: unknown): void => {
        const record = this.#records.get(id)
        if (record !== undefined) this.#drop(record, true)
        answer.settle(ok, value)
        if (ok) resolve(value)
        else reject(value)
      }
      const waiter = this.#wait(id, done, answer.options, answer.label, answer.deadline)
      if (waiter) this.#io.post(['pull', id], (error) => this.#settle(id, false, error))
    })
  }

  release(handle: Handle): void {
    const id = handle.id
    if (id === undefined) return
    handle.kill(releasedError(handle.label))
    this.#waiters.get(id)?.settle(false, releasedError(handle.label))
    const record = this.#records.get(id)
    if (record !== undefined) this.#drop(record, true)
  }

  report(error: unknown, what: string): void {
    const coded =
      error instanceof PeerjectError
        ? error
        : new PeerjectError(
            'ERR_REMOTE',
            `${what} failed on peer ${this.#io.peer}: ${String((error as Error | undefined)?.message ?? error)}; use \`await set(…)\` / \`await remove(…)\` to handle it`,
            { cause: error },
          )
    this.#io.report(coded)
  }

  /**
   * A `return` or `throw` arrived for `id`. Returns false when the id was never allocated here
   * (a protocol violation); a late reply (after a timeout or a release) is ignored.
   */
  settle(id: number, ok: boolean, value: unknown): boolean {
    if (id >= this.#nextId) return false
    this.#settle(id, ok, value)
    return true
  }

  /** Ends everything: pending replies reject with `error`, stubs become unusable. */
  close(error: PeerjectError): void {
    if (this.#closed !== undefined) return
    this.#closed = error
    for (const waiter of [...this.#waiters.values()]) waiter.settle(false, error)
    this.#waiters.clear()
    for (const record of this.#records.values()) {
      const handle = record.handle?.deref()
      if (handle !== undefined) {
        handle.kill(error)
        this.#finalizer.unregister(handle)
      }
    }
    this.#records.clear()
  }

  #settle(id: number, ok: boolean, value: unknown): void {
    const waiter = this.#waiters.get(id)
    if (waiter !== undefined) {
      waiter.settle(ok, value)
      return
    }
    // A reply for an answer nobody pulled: the exporter dropped it (quota). Settle it locally.
    const record = this.#records.get(id)
    const handle = record?.handle?.deref()
    if (record !== undefined && handle?.kind === 'answer') {
      this.#drop(record, true)
      handle.settle(ok, value)
    }
  }

  /** Registers a waiter for reply `id`, with its timeout and abort signal. */
  #wait(
    id: number,
    done: (ok: boolean, value: unknown) => void,
    options: CallOptions | undefined,
    label: string,
    deadline?: number,
  ): boolean {
    if (this.#closed !== undefined) {
      done(false, this.#closed)
      return false
    }
    const early = aborted(options, label)
    if (early !== undefined) {
      done(false, early)
      return false
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const signal = options?.signal
    const onAbort = (): void => waiter.settle(false, aborted(options, label))
    const waiter: Waiter = {
      settle: (ok, value) => {
        if (this.#waiters.get(id) !== waiter) return
        this.#waiters.delete(id)
        if (timer !== undefined) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        done(ok, value)
      },
    }
    this.#waiters.set(id, waiter)
    signal?.addEventListener('abort', onAbort, { once: true })
    const timeoutMs = options?.timeoutMs
    if (timeoutMs !== undefined) {
      const remaining = deadline === undefined ? timeoutMs : deadline - Date.now()
      const expire = (): void =>
        waiter.settle(
          false,
          new PeerjectError(
            'ERR_TIMEOUT',
            `${label} on peer ${this.#io.peer} did not settle within ${timeoutMs} ms; raise timeoutMs in withOptions(stub, { timeoutMs })`,
          ),
        )
      if (remaining <= 0) expire()
      else timer = setTimeout(expire, remaining)
    }
    return this.#waiters.get(id) === waiter
  }

  #request(
    message: readonly unknown[],
    options: CallOptions | undefined,
    label: string,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      const done = (ok: boolean, value: unknown): void => (ok ? resolve(value) : reject(value))
      if (!this.#wait(id, done, options, label)) return
      const [tag, ...rest] = message
      this.#io.post([tag, id, ...rest], (error) => this.#settle(id, false, error))
    })
  }

  #track(
    id: number,
    kind: 'named' | 'answer',
    shape: 'function' | 'object',
    label: string,
    options: CallOptions | undefined,
    deadline?: number,
  ): Handle {
    const handle = new Handle(this, kind, shape, id, label, options, deadline)
    const record: ImportRecord = { id, count: 1, handle: new WeakRef(handle), generation: 0 }
    this.#records.set(id, record)
    this.#finalizer.register(handle, { id, generation: 0 }, handle)
    return handle
  }

  #attach(record: ImportRecord, shape: 'function' | 'object', label: string): Handle {
    const handle = new Handle(this, 'reference', shape, record.id, label)
    record.generation++
    record.handle = new WeakRef(handle)
    this.#finalizer.register(handle, { id: record.id, generation: record.generation }, handle)
    return handle
  }

  /** Deletes the record; sends `release` unless the peer never got the id. */
  #drop(record: ImportRecord, send: boolean): void {
    if (this.#records.get(record.id) !== record) return
    this.#records.delete(record.id)
    const handle = record.handle?.deref()
    if (handle !== undefined) this.#finalizer.unregister(handle)
    if (send && this.#closed === undefined) this.#io.post(['release', record.id, record.count])
  }

  /** The message creating `id` could not be sent: forget it without a release. */
  #unsent(id: number, handle: Handle, error: PeerjectError): void {
    const record = this.#records.get(id)
    if (record !== undefined) this.#drop(record, false)
    this.#waiters.get(id)?.settle(false, error)
    handle.settle(false, error)
  }

  /** The finalization registry saw a handle collected. */
  #collected(held: FinalizerToken): void {
    const record = this.#records.get(held.id)
    if (record === undefined || record.generation !== held.generation) return
    this.#drop(record, true)
  }

  #deadHandle(kind: 'named' | 'answer' | 'reference', label: string, error: PeerjectError): Handle {
    if (kind === 'answer') return Handle.local(Promise.reject(error), label)
    const handle = new Handle(this, kind, 'function', undefined, label)
    handle.kill(error)
    return handle
  }
}

function aborted(options: CallOptions | undefined, label: string): PeerjectError | undefined {
  const signal = options?.signal
  if (signal?.aborted !== true) return undefined
  return new PeerjectError('ERR_ABORTED', `${label} was aborted`, { cause: signal.reason })
}
