/**
 * The export side of a session: what this peer serves to the other — references it sent, objects
 * the peer resolved by name, results of the peer's calls — and the execution of the peer's
 * operations on them.
 *
 * Contracts:
 * - Each entry has a {@link SerialQueue}: the peer's operations on one entry (and its releases)
 *   start in the order they arrived, even when the authorizer is async or the entry is a result
 *   still pending. A method's own result may settle later; its start is in order.
 * - An entry is freed when the peer's releases bring its refcount to zero. Every time this side
 *   sends an id inside a value, the refcount grows by one.
 * - Quotas: an operation beyond `maxCallsInFlight` rejects ERR_QUOTA; a result beyond `maxExports`
 *   is not stored: `['throw', answer, ERR_QUOTA]` is sent at once ("dropped answer"), and a later
 *   release of that id is ignored. An operation's slot is held until its answer has been handed
 *   to the channel, not only until it is computed: answers waiting for a slow channel count, so a
 *   peer cannot pile up answers (each possibly large) faster than they leave. A pull of a settled
 *   result takes a slot the same way.
 * - Protocol violations (ids that do not increase, releases of ids never sent, over-releases, a
 *   second pull of one answer) are thrown as ERR_BAD_MESSAGE; the session closes.
 */
import type { ExportRegistry } from './export-registry.js'
import { PeerjectError } from '../errors.js'
import { applyOperation, type LocalOperation } from './apply.js'
import { denied, screen, type Authorizer, type PathOrigin } from './authorizer.js'
import type { RpcLimits } from './limits.js'
import type { Operation, Path, RpcMessage } from './protocol.js'
import {
  createEntry,
  handled,
  inFlightQuota,
  notFound,
  notExposed,
  exportsQuota,
  type ExportEntry,
} from './export-entry.js'
import { ForceReference } from './stub.js'

/** How many dropped results {@link Exporter} remembers (oldest forgotten first). */
const MAX_REMEMBERED_DROPS = 64

/** What the exporter needs from its session. */
export interface ExporterIO {
  readonly peer: string
  readonly limits: RpcLimits
  readonly registry: ExportRegistry
  readonly authorize: Authorizer
  /**
   * Encodes and sends `message`; `onFailure` runs when it could not be sent, `onSent` once it has
   * been handed to the channel.
   */
  post(
    message: readonly unknown[],
    onFailure?: (error: PeerjectError) => void,
    onSent?: () => void,
  ): void
  /**
   * {@link post} for an answer (`return`/`throw`): may wait, unencoded, while the session's
   * encoded messages not yet handed to the channel fill its answer window.
   */
  answer(
    message: readonly unknown[],
    onFailure?: (error: PeerjectError) => void,
    onSent?: () => void,
  ): void
}

/**
 * Where an operation's outcome goes: a result entry (settled, and sent if pulled) or a request
 * id (answered with `return`/`throw`). Data, not a callback, so the hot path allocates no closure.
 */
type Sink = ExportEntry | number

/** Export table and operation execution of one session. */
export class Exporter {
  readonly #io: ExporterIO
  readonly #entries = new Map<number, ExportEntry>()
  /** The last results dropped for quota, with the reason, for operations pipelined on them. */
  readonly #dropped = new Map<number, PeerjectError>()
  readonly #idsByValue = new Map<object, number>()
  #nextId = -1
  #maxPeerId = 0
  #inFlight = 0
  #closed = false

  constructor(io: ExporterIO) {
    this.#io = io
  }

  /** Entries held for the peer. */
  get size(): number {
    return this.#entries.size
  }

  /** The peer's operations running or queued here. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Export hook: sends `value` by reference; returns its (negative) id. Throws ERR_QUOTA. */
  exportValue(value: object): number {
    const known = this.#idsByValue.get(value)
    const entry = known === undefined ? undefined : this.#entries.get(known)
    if (entry !== undefined) {
      entry.refcount++
      return entry.id
    }
    if (this.#entries.size >= this.#io.limits.maxExports) {
      throw exportsQuota(this.#io.peer, this.#io.limits.maxExports)
    }
    const id = this.#nextId--
    const created = this.#entry(id, 'reference', [], false)
    created.state = 'fulfilled'
    created.value = value
    this.#idsByValue.set(value, id)
    return id
  }

  /** Undoes one {@link exportValue} whose message was never sent. */
  unexport(id: number): void {
    const entry = this.#entries.get(id)
    if (entry !== undefined && --entry.refcount <= 0) this.#delete(entry)
  }

  /**
   * Import hook for `['o', id]`: the original object of a stub coming home. A pending or failed
   * result arrives as a promise. Throws ERR_BAD_MESSAGE for an id that was never exported.
   */
  lookupOwn(id: number): unknown {
    const entry = this.#entries.get(id)
    if (entry === undefined) {
      if (id > 0 && id <= this.#maxPeerId) return handled(Promise.reject(notFound(id)))
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `the peer referred to export ${id}, which it does not hold`,
      )
    }
    if (entry.state === 'fulfilled') return entry.value
    if (entry.state === 'rejected') return handled(Promise.reject(entry.value))
    // One promise per pending entry, however often the peer refers to it: a watcher per reference
    // would let each `['o', id]` in a message cost this side memory until the result settles.
    entry.settled ??= handled(
      new Promise((resolve, reject) =>
        entry.watchers.push(() => (entry.state === 'fulfilled' ? resolve : reject)(entry.value)),
      ),
    )
    return entry.settled
  }

  /** Handles one incoming operation, pull or release. Throws ERR_BAD_MESSAGE on violations. */
  receive(message: RpcMessage): void {
    if (this.#closed) return
    switch (message[0]) {
      case 'resolve': {
        const [, id, name] = message
        const entry = this.#answer(id, 'name', [name])
        if (entry === undefined) return
        try {
          const value = this.#resolveName(name)
          if (value instanceof Promise)
            value.then(
              (v) => this.#settle(entry, true, v),
              (e: unknown) => this.#settle(entry, false, e),
            )
          else this.#settle(entry, true, value)
        } catch (error) {
          this.#settle(entry, false, error)
        }
        return
      }
      case 'call':
      case 'new': {
        const [tag, id, target, path, args] = message
        const entry = this.#answer(id, 'result', [])
        if (entry === undefined) return
        entry.byReference = tag === 'new'
        const op = tag === 'new' ? 'construct' : 'call'
        this.#operate(target, op, { op, path, args }, entry)
        return
      }
      case 'get':
      case 'delete':
      case 'set': {
        const [op, id, target, path] = message
        this.#admit(id)
        const operation: LocalOperation =
          message[0] === 'set' ? { op: 'set', path, value: message[4] } : { op: message[0], path }
        this.#operate(target, op, operation, id)
        return
      }
      case 'list': {
        const [, id] = message
        this.#admit(id)
        if (this.#inFlight >= this.#io.limits.maxCallsInFlight) {
          this.#deliver(id, false, inFlightQuota(this.#io.peer, this.#io.limits.maxCallsInFlight))
          return
        }
        this.#inFlight++
        const names = this.#io.registry.names()
        const verdicts = names.map((name) =>
          screen(this.#io.authorize, this.#io.peer, 'resolve', [name], 'name'),
        )
        Promise.all(verdicts).then(
          (results) =>
            this.#finish(
              id,
              true,
              names.filter((_, i) => results[i] === undefined),
            ),
          (error: unknown) => this.#finish(id, false, error),
        )
        return
      }
      case 'pull': {
        const [, id] = message
        const entry = this.#entries.get(id)
        if (entry === undefined || entry.origin !== 'result') {
          this.#io.post(['throw', id, notFound(id)])
          return
        }
        if (entry.pulled) {
          throw new PeerjectError('ERR_BAD_MESSAGE', `the peer pulled answer ${id} twice`)
        }
        entry.pulled = true
        // Pending: the operation's own slot carries the answer out when it settles.
        if (entry.state === 'pending') return
        if (this.#inFlight >= this.#io.limits.maxCallsInFlight) {
          this.#reply(id, false, inFlightQuota(this.#io.peer, this.#io.limits.maxCallsInFlight))
          return
        }
        this.#inFlight++
        this.#sendPulled(entry, true)
        return
      }
      case 'release': {
        const [, id, count] = message
        const entry = this.#entries.get(id)
        if (entry === undefined) {
          if (id > 0 && id <= this.#maxPeerId) return // a dropped answer, or already released
          throw new PeerjectError(
            'ERR_BAD_MESSAGE',
            `the peer released export ${id}, which it does not hold`,
          )
        }
        // Applied at once, not queued: operations that arrived earlier already hold the entry and
        // still run; a pending result must not keep its release waiting.
        this.#release(entry, count)
        return
      }
      default:
        throw new PeerjectError('ERR_BAD_MESSAGE', `unexpected rpc message "${message[0]}"`)
    }
  }

  /** Drops every entry; results still running are discarded when they settle. */
  close(): void {
    this.#closed = true
    for (const entry of this.#entries.values()) entry.queue.close()
    this.#entries.clear()
    this.#idsByValue.clear()
    this.#inFlight = 0
  }

  #release(entry: ExportEntry, count: number): void {
    if (count > entry.refcount) {
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `the peer released export ${entry.id} ${count} times, but holds it ${entry.refcount} times`,
      )
    }
    entry.refcount -= count
    if (entry.refcount === 0) this.#delete(entry)
  }

  /** Checks that request/answer ids of the peer increase. */
  #admit(id: number): void {
    if (id <= this.#maxPeerId) {
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `request id ${id} does not increase (last was ${this.#maxPeerId})`,
      )
    }
    this.#maxPeerId = id
  }

  /** Creates a pending result entry `id`, or drops it (ERR_QUOTA) when the table is full. */
  #answer(id: number, origin: PathOrigin, basePath: Path): ExportEntry | undefined {
    this.#admit(id)
    if (this.#entries.size >= this.#io.limits.maxExports) {
      const error = exportsQuota(this.#io.peer, this.#io.limits.maxExports)
      this.#io.post(['throw', id, error])
      // Operations the peer pipelined on it are already on their way: they get this reason too.
      this.#dropped.set(id, error)
      if (this.#dropped.size > MAX_REMEMBERED_DROPS) {
        this.#dropped.delete(this.#dropped.keys().next().value as number)
      }
      return undefined
    }
    // Its queue is held: operations pipelined on it wait until it settles (`#settle`).
    return this.#entry(id, origin, basePath, true)
  }

  #entry(id: number, origin: PathOrigin, basePath: Path, held: boolean): ExportEntry {
    const entry = createEntry(id, origin, basePath, held)
    this.#entries.set(id, entry)
    return entry
  }

  #delete(entry: ExportEntry): void {
    this.#entries.delete(entry.id)
    if (entry.origin === 'reference') this.#idsByValue.delete(entry.value as object)
  }

  /**
   * Settles result `entry`: resumes its queue, wakes its watchers, sends it if it was pulled. With
   * `slot`, the operation that produced it holds an in-flight slot, which the sending takes over
   * (or which is freed here when nothing is sent yet).
   */
  #settle(entry: ExportEntry, ok: boolean, value: unknown, slot = false): void {
    entry.state = ok ? 'fulfilled' : 'rejected'
    entry.value = value
    if (entry.watchers.length > 0) for (const watcher of entry.watchers.splice(0)) watcher()
    entry.settled = undefined
    entry.queue.resume()
    if (entry.pulled && this.#entries.get(entry.id) === entry) this.#sendPulled(entry, slot)
    else if (slot) this.#inFlight--
  }

  /** Feeds an outcome that holds no slot to its sink (see {@link Sink}). */
  #deliver(sink: Sink, ok: boolean, value: unknown): void {
    if (typeof sink === 'number') this.#reply(sink, ok, value)
    else this.#settle(sink, ok, value)
  }

  /** An operation counted in flight ended: its slot is freed once its answer has left. */
  #finish(sink: Sink, ok: boolean, value: unknown): void {
    if (this.#closed) return
    if (typeof sink === 'number') this.#reply(sink, ok, value, this.#slotFreed)
    else this.#settle(sink, ok, value, true)
  }

  readonly #slotFreed = (): void => {
    if (!this.#closed) this.#inFlight--
  }

  /**
   * Sends a pulled result once the operations the peer issued on it before pulling have started
   * (they may wait for an async authorizer in its queue): the peer may act on the value as soon as
   * it arrives, through another reference, and those later operations must not overtake them.
   */
  #sendPulled(entry: ExportEntry, slot: boolean): void {
    if (entry.queue.busy) entry.queue.push(() => this.#sendResult(entry, slot))
    else this.#sendResult(entry, slot)
  }

  #sendResult(entry: ExportEntry, slot: boolean): void {
    if (this.#closed) return
    if (this.#entries.get(entry.id) !== entry) {
      // Released while its queue ran: nobody waits for it any more.
      if (slot) this.#inFlight--
      return
    }
    const ok = entry.state === 'fulfilled'
    const value =
      ok && entry.byReference && typeof entry.value === 'object' && entry.value !== null
        ? new ForceReference(entry.value)
        : entry.value
    this.#reply(entry.id, ok, value, slot ? this.#slotFreed : undefined)
  }

  /** Answers request `id`; `onSent` runs once the answer (or the error replacing it) has left. */
  #reply(id: number, ok: boolean, value: unknown, onSent?: () => void): void {
    if (this.#closed) return
    this.#io.answer(
      [ok ? 'return' : 'throw', id, value],
      (error) =>
        this.#io.answer(
          ['throw', id, error],
          () =>
            this.#io.answer(
              [
                'throw',
                id,
                new PeerjectError(
                  'ERR_REMOTE',
                  `the result of request ${id} could not be sent: ${error.message}`,
                ),
              ],
              onSent,
              onSent,
            ),
          onSent,
        ),
      onSent,
    )
  }

  /**
   * Runs `op` on export `targetId` in its queue, behind the peer's earlier operations on it: checks
   * the in-flight quota and the target, screens (fixed rules, then the authorizer), applies the
   * operation and feeds the (awaited) outcome to `sink`. The in-flight count covers all of it.
   */
  #operate(targetId: number, op: Operation, operation: LocalOperation, sink: Sink): void {
    const target = this.#entries.get(targetId)
    if (target === undefined) {
      this.#deliver(sink, false, this.#dropped.get(targetId) ?? notFound(targetId))
      return
    }
    if (this.#inFlight >= this.#io.limits.maxCallsInFlight) {
      this.#deliver(sink, false, inFlightQuota(this.#io.peer, this.#io.limits.maxCallsInFlight))
      return
    }
    this.#inFlight++
    target.queue.push(() => this.#screen(target, op, operation, sink))
  }

  /** Queue task: screens the operation; returns a promise (holding the queue) when async. */
  #screen(target: ExportEntry, op: Operation, operation: LocalOperation, sink: Sink): unknown {
    if (this.#closed) return undefined
    const path =
      target.basePath.length === 0 ? [...operation.path] : [...target.basePath, ...operation.path]
    const verdict = screen(this.#io.authorize, this.#io.peer, op, path, target.origin)
    if (verdict === undefined) return this.#execute(target, operation, sink)
    if (verdict instanceof PeerjectError) return this.#finish(sink, false, verdict)
    return verdict.then((error) =>
      error === undefined
        ? this.#execute(target, operation, sink)
        : this.#finish(sink, false, error),
    )
  }

  /**
   * Applies the operation. An outcome that is not a thenable is delivered at once; a thenable (a
   * promise, or a thenable stub when the call was forwarded to another peer) is awaited first.
   */
  #execute(target: ExportEntry, operation: LocalOperation, sink: Sink): void {
    let result: unknown
    try {
      if (target.state === 'rejected') throw target.value
      if (operation.op === 'get' && operation.path.length === 0 && target.origin !== 'result') {
        throw denied(
          'get',
          target.basePath,
          'a reference is not read by value; read its properties',
        )
      }
      result = applyOperation(target.value, operation)
    } catch (error) {
      this.#finish(sink, false, error)
      return
    }
    if ((typeof result !== 'object' && typeof result !== 'function') || result === null) {
      this.#finish(sink, true, result)
      return
    }
    // `then` is read once, as promise resolution would; a non-thenable settles now.
    let then: unknown
    try {
      then = (result as { then?: unknown }).then
    } catch (error) {
      this.#finish(sink, false, error)
      return
    }
    if (typeof then !== 'function') {
      this.#finish(sink, true, result)
      return
    }
    new Promise((resolve, reject) => {
      ;(then as (onFulfilled: unknown, onRejected: unknown) => unknown).call(
        result,
        resolve,
        reject,
      )
    }).then(
      (value) => this.#finish(sink, true, value),
      (error: unknown) => this.#finish(sink, false, error),
    )
  }

  #resolveName(name: string): Promise<unknown> | unknown {
    const verdict = screen(this.#io.authorize, this.#io.peer, 'resolve', [name], 'name')
    return verdict instanceof Promise
      ? verdict.then((error) => this.#lookup(name, error))
      : this.#lookup(name, verdict)
  }

  #lookup(name: string, error: PeerjectError | undefined): unknown {
    if (error !== undefined) throw error
    const value = this.#io.registry.get(name)
    if (value === undefined) throw notExposed(name)
    return value
  }
}
