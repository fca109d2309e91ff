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
import type { RpcLimits } from './limits.js'
import type { Path } from './protocol.js'
import {
  controllerOf,
  Handle,
  labelText,
  releasedError,
  type CallOptions,
  type Label,
  type StubHost,
} from './stub.js'
import { isTimerDelay } from '../timers.js'

/** Most values a late reply's walk visits (see {@link Importer} `#giveBackWithin`). */
const MAX_LATE_WALK = 10_000

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
  /**
   * An answer's handle until the next `commit`, held strongly instead of through `handle`: most
   * answers are pulled by then (`await stub.method()`), and their waiter holds the handle, so they
   * never need a WeakRef (one less allocation, and one less object kept for the job, per call).
   */
  young: Handle | undefined
  generation: number
  /** Whether the finalization registry watches the handle (answers join it late, see `commit`). */
  registered: boolean
}

/**
 * A request or pull waiting for its reply. Plain data (the hot path allocates no closures for it):
 * the timer and abort listener exist only when the operation has options.
 */
interface Waiter {
  readonly resolve: (value: unknown) => void
  readonly reject: (reason: unknown) => void
  /** For a pull: the answer whose value this is (settled, and its import dropped, first). */
  readonly answer: Handle | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Import table, pending replies and id allocation of one session. */
export class Importer implements StubHost {
  readonly #io: ImporterIO
  readonly #records = new Map<number, ImportRecord>()
  /** Records of references the peer sent (negative ids): what `maxImports` bounds. */
  #received = 0
  readonly #waiters = new Map<number, Waiter>()
  readonly #finalizer: FinalizerLike
  /**
   * Answers issued since the last {@link Importer.commit}, with their handles held strongly until
   * then: registering a handle with the finalization registry is the costliest step of a call,
   * and an answer pulled before the flush never needs it (its waiter holds the handle until the
   * reply drops the record).
   */
  #young: Handle[] = []
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
      const live = liveHandle(record)
      if (live !== undefined) return live.root()
      return this.#attach(record, shape, `reference ${id} from peer ${this.#io.peer}`).root()
    }
    // Only what the peer sent counts: this side's own results and names are not its doing.
    if (this.#received >= this.#io.limits.maxImports) {
      throw new PeerjectError(
        'ERR_QUOTA',
        `peer ${this.#io.peer} sent more than ${this.#io.limits.maxImports} references; raise limits.maxImports or release stubs`,
      )
    }
    const created: ImportRecord = {
      id,
      count: 1,
      handle: undefined,
      young: undefined,
      generation: 0,
      registered: false,
    }
    this.#records.set(id, created)
    this.#received++
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
    return this.#request(message, options, { base: target.labelSource, path, op })
  }

  issue(
    op: 'call' | 'new',
    target: Handle,
    path: Path,
    args: readonly unknown[],
    options: CallOptions | undefined,
  ): Handle {
    const label: Label = { base: target.labelSource, path, op: 'call' }
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
      const waiting = this.#wait(id, resolve, reject, answer, answer.options, answer.deadline)
      if (waiting) this.#io.post(['pull', id], (error) => this.#settle(id, false, error))
    })
  }

  /**
   * The session is about to send what was posted: answers issued since the last commit that
   * nobody is pulling go to the finalization registry now, so a forgotten one is released.
   */
  commit(): void {
    const young = this.#young
    if (young.length === 0) return
    this.#young = []
    for (const handle of young) {
      const id = handle.id
      const record = id === undefined ? undefined : this.#records.get(id)
      if (record === undefined || record.young !== handle) continue
      record.young = undefined
      // Pulled: its waiter holds the handle until the reply drops the record.
      if (this.#waiters.has(record.id)) continue
      record.handle = new WeakRef(handle)
      this.#register(record, handle)
    }
  }

  release(handle: Handle): void {
    const id = handle.id
    if (id === undefined) return
    handle.kill(releasedError(handle.label))
    this.#settle(id, false, releasedError(handle.label), true)
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
    if (!this.#settle(id, ok, value)) this.#giveBackWithin(value)
    return true
  }

  /** Ends everything: pending replies reject with `error`, stubs become unusable. */
  close(error: PeerjectError): void {
    if (this.#closed !== undefined) return
    this.#closed = error
    this.#young = []
    for (const id of [...this.#waiters.keys()]) this.#settle(id, false, error, true)
    this.#waiters.clear()
    for (const record of this.#records.values()) {
      const handle = liveHandle(record)
      if (handle !== undefined) handle.kill(error)
      if (record.registered) this.#finalizer.unregister(record)
    }
    this.#records.clear()
    this.#received = 0
  }

  /**
   * Settles the waiter of reply `id`. Without one (and unless `waitersOnly`), a reply for an
   * answer nobody pulled means the exporter dropped it (quota): the answer settles locally.
   */
  #settle(id: number, ok: boolean, value: unknown, waitersOnly = false): boolean {
    const waiter = this.#waiters.get(id)
    if (waiter !== undefined) {
      this.#waiters.delete(id)
      if (waiter.timer !== undefined) clearTimeout(waiter.timer)
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort)
      const answer = waiter.answer
      if (answer !== undefined) {
        const record = this.#records.get(id)
        if (record !== undefined) this.#drop(record, true)
        answer.settle(ok, value)
      }
      if (ok) waiter.resolve(value)
      else waiter.reject(value)
      return true
    }
    if (waitersOnly) return false
    const record = this.#records.get(id)
    const handle = record === undefined ? undefined : liveHandle(record)
    if (record !== undefined && handle?.kind === 'answer') {
      this.#drop(record, true)
      handle.settle(ok, value)
      return true
    }
    if (record !== undefined && handle?.kind === 'named' && !ok) {
      // The peer dropped the name it was asked to resolve (its export table is full): it holds
      // nothing to release, and every use of the stub fails with its reason.
      this.#drop(record, false)
      handle.kill(
        value instanceof PeerjectError
          ? value
          : new PeerjectError('ERR_REMOTE', `peer ${this.#io.peer} refused ${handle.label}`, {
              cause: value,
            }),
      )
    }
    return false
  }

  /**
   * A reply nobody waits for any more (its call timed out, was aborted or released): the
   * references it brought are given back now, one count per distinct stub (what the peer added
   * for this reply), instead of when the collector finds their stubs. A stub the user holds from
   * an earlier message keeps its other counts. The walk is bounded; what lies beyond the bound
   * is left to the finalization registry, as before.
   */
  #giveBackWithin(value: unknown): void {
    const seen = new Set<object>()
    const stack: unknown[] = [value]
    for (let budget = MAX_LATE_WALK; stack.length > 0 && budget > 0; budget--) {
      const item = stack.pop()
      if ((typeof item !== 'object' && typeof item !== 'function') || item === null) continue
      if (seen.has(item)) continue
      seen.add(item)
      const stub = controllerOf(item)
      if (stub !== undefined) {
        const { handle } = stub
        if (handle.host === this && handle.kind === 'reference' && stub.path.length === 0) {
          this.#giveBack(handle)
        }
        continue
      }
      // Children are pushed only while they fit the budget (no spread: arrays may be huge).
      const push = (child: unknown): boolean => stack.length < budget && stack.push(child) > 0
      if (Array.isArray(item)) {
        for (const child of item as unknown[]) if (!push(child)) break
      } else if (item instanceof Map) {
        for (const [key, entry] of item) if (!push(key) || !push(entry)) break
      } else if (item instanceof Set) {
        for (const member of item) if (!push(member)) break
      } else if (!ArrayBuffer.isView(item) && !(item instanceof ArrayBuffer)) {
        for (const key of Object.keys(item)) {
          if (!push((item as Record<string, unknown>)[key])) break
        }
        if (item instanceof Error) push(item.cause)
      }
    }
  }

  /** Releases one count of `handle`'s import; the last one drops it. */
  #giveBack(handle: Handle): void {
    const id = handle.id
    const record = id === undefined ? undefined : this.#records.get(id)
    if (id === undefined || record === undefined || this.#closed !== undefined) return
    if (record.count > 1) {
      record.count--
      this.#io.post(['release', id, 1])
      return
    }
    handle.kill(releasedError(handle.label))
    this.#drop(record, true)
  }

  /**
   * Registers a waiter for reply `id`, with its timeout and abort signal. Returns false when it
   * settled at once (session closed, signal already aborted, deadline passed): send nothing.
   */
  #wait(
    id: number,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
    answer: Handle | undefined,
    options: CallOptions | undefined,
    deadline: number | undefined,
    request?: Label,
  ): boolean {
    // Labels are only needed for errors, and built then.
    const label: Label = request ?? answer?.labelSource ?? `request ${id}`
    if (this.#closed !== undefined) {
      this.#early(reject, answer, this.#closed)
      return false
    }
    const early = aborted(options, label)
    if (early !== undefined) {
      this.#early(reject, answer, early)
      return false
    }
    const waiter: Waiter = {
      resolve,
      reject,
      answer,
      timer: undefined,
      signal: undefined,
      onAbort: undefined,
    }
    this.#waiters.set(id, waiter)
    if (options === undefined) return true
    const signal = options.signal
    if (signal !== undefined) {
      waiter.signal = signal
      waiter.onAbort = () => this.#settle(id, false, aborted(options, label), true)
      signal.addEventListener('abort', waiter.onAbort, { once: true })
    }
    const timeoutMs = options.timeoutMs
    // Beyond what a timer can hold (about 24.8 days), or Infinity: no timeout at all.
    if (timeoutMs !== undefined && isTimerDelay(timeoutMs)) {
      const remaining = deadline === undefined ? timeoutMs : deadline - Date.now()
      if (remaining <= 0) this.#expire(id, label, timeoutMs)
      else waiter.timer = setTimeout(() => this.#expire(id, label, timeoutMs), remaining)
    }
    return this.#waiters.get(id) === waiter
  }

  /** A waiter that settled before it was registered. */
  #early(
    reject: (reason: unknown) => void,
    answer: Handle | undefined,
    error: PeerjectError,
  ): void {
    if (answer !== undefined) {
      const record = answer.id === undefined ? undefined : this.#records.get(answer.id)
      if (record !== undefined) this.#drop(record, true)
      answer.settle(false, error)
    }
    reject(error)
  }

  #expire(id: number, label: Label, timeoutMs: number): void {
    this.#settle(
      id,
      false,
      new PeerjectError(
        'ERR_TIMEOUT',
        `${labelText(label)} on peer ${this.#io.peer} did not settle within ${timeoutMs} ms; raise timeoutMs in withOptions(stub, { timeoutMs })`,
      ),
      true,
    )
  }

  #request(
    message: readonly unknown[],
    options: CallOptions | undefined,
    label: Label,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      if (!this.#wait(id, resolve, reject, undefined, options, undefined, label)) return
      const [tag, ...rest] = message
      this.#io.post([tag, id, ...rest], (error) => this.#settle(id, false, error))
    })
  }

  #track(
    id: number,
    kind: 'named' | 'answer',
    shape: 'function' | 'object',
    label: Label,
    options: CallOptions | undefined,
    deadline?: number,
  ): Handle {
    const handle = new Handle(this, kind, shape, id, label, options, deadline)
    const answer = kind === 'answer'
    const record: ImportRecord = {
      id,
      count: 1,
      handle: answer ? undefined : new WeakRef(handle),
      young: answer ? handle : undefined,
      generation: 0,
      registered: false,
    }
    this.#records.set(id, record)
    if (answer) this.#young.push(handle)
    else this.#register(record, handle)
    return handle
  }

  #register(record: ImportRecord, handle: Handle): void {
    this.#finalizer.register(handle, { id: record.id, generation: record.generation }, record)
    record.registered = true
  }

  #attach(record: ImportRecord, shape: 'function' | 'object', label: string): Handle {
    const handle = new Handle(this, 'reference', shape, record.id, label)
    record.generation++
    record.handle = new WeakRef(handle)
    this.#register(record, handle)
    return handle
  }

  /** Deletes the record; sends `release` unless the peer never got the id. */
  #drop(record: ImportRecord, send: boolean): void {
    if (this.#records.get(record.id) !== record) return
    this.#records.delete(record.id)
    if (record.id < 0) this.#received--
    if (record.registered) this.#finalizer.unregister(record)
    if (send && this.#closed === undefined) this.#io.post(['release', record.id, record.count])
  }

  /** The message creating `id` could not be sent: forget it without a release. */
  #unsent(id: number, handle: Handle, error: PeerjectError): void {
    const record = this.#records.get(id)
    if (record !== undefined) this.#drop(record, false)
    this.#settle(id, false, error, true)
    handle.settle(false, error)
  }

  /** The finalization registry saw a handle collected. */
  #collected(held: FinalizerToken): void {
    const record = this.#records.get(held.id)
    if (record === undefined || record.generation !== held.generation) return
    this.#drop(record, true)
  }

  #deadHandle(kind: 'named' | 'answer' | 'reference', label: Label, error: PeerjectError): Handle {
    if (kind === 'answer') return Handle.local(Promise.reject(error), label)
    const handle = new Handle(this, kind, 'function', undefined, label)
    handle.kill(error)
    return handle
  }
}

/** The record's handle while it lives (an answer's before `commit`, else through its WeakRef). */
function liveHandle(record: ImportRecord): Handle | undefined {
  return record.young ?? record.handle?.deref()
}

function aborted(options: CallOptions | undefined, label: Label): PeerjectError | undefined {
  const signal = options?.signal
  if (signal?.aborted !== true) return undefined
  return new PeerjectError('ERR_ABORTED', `${labelText(label)} was aborted`, {
    cause: signal.reason,
  })
}
