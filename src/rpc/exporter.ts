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
 *   release of that id is ignored.
 * - Protocol violations (ids that do not increase, releases of ids never sent, over-releases) are
 *   thrown as ERR_BAD_MESSAGE; the session closes.
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

/** What the exporter needs from its session. */
export interface ExporterIO {
  readonly peer: string
  readonly limits: RpcLimits
  readonly registry: ExportRegistry
  readonly authorize: Authorizer
  /** Encodes and sends `message`; `onFailure` runs when it could not be sent. */
  post(message: readonly unknown[], onFailure?: (error: PeerjectError) => void): void
}

type Sink = (ok: boolean, value: unknown) => void

/** Export table and operation execution of one session. */
export class Exporter {
  readonly #io: ExporterIO
  readonly #entries = new Map<number, ExportEntry>()
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
    const created = this.#entry(id, 'reference', [])
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
    return handled(
      new Promise((resolve, reject) =>
        entry.watchers.push(() => (entry.state === 'fulfilled' ? resolve : reject)(entry.value)),
      ),
    )
  }

  /** Handles one incoming operation, pull or release. Throws ERR_BAD_MESSAGE on violations. */
  receive(message: RpcMessage): void {
    if (this.#closed) return
    switch (message[0]) {
      case 'resolve': {
        const [, id, name] = message
        const entry = this.#answer(id, 'name', [name])
        if (entry === undefined) return
        const settle = this.#settler(entry)
        try {
          const value = this.#resolveName(name)
          if (value instanceof Promise)
            value.then(
              (v) => settle(true, v),
              (e: unknown) => settle(false, e),
            )
          else settle(true, value)
        } catch (error) {
          settle(false, error)
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
        this.#operate(target, op, { op, path, args }, this.#settler(entry))
        return
      }
      case 'get':
      case 'delete':
      case 'set': {
        const [op, id, target, path] = message
        this.#admit(id)
        const operation: LocalOperation =
          message[0] === 'set' ? { op: 'set', path, value: message[4] } : { op: message[0], path }
        this.#operate(target, op, operation, this.#replier(id))
        return
      }
      case 'list': {
        const [, id] = message
        this.#admit(id)
        const replier = this.#replier(id)
        this.#inFlight++
        const reply: Sink = (ok, value) => {
          if (this.#closed) return
          this.#inFlight--
          replier(ok, value)
        }
        const names = this.#io.registry.names()
        const verdicts = names.map((name) =>
          screen(this.#io.authorize, this.#io.peer, 'resolve', [name], 'name'),
        )
        Promise.all(verdicts).then(
          (results) =>
            reply(
              true,
              names.filter((_, i) => results[i] === undefined),
            ),
          (error: unknown) => reply(false, error),
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
        entry.pulled = true
        if (entry.state !== 'pending') this.#sendResult(entry)
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
      this.#io.post(['throw', id, exportsQuota(this.#io.peer, this.#io.limits.maxExports)])
      return undefined
    }
    const entry = this.#entry(id, origin, basePath)
    // Operations pipelined on a pending result wait behind this until it settles.
    entry.queue.push(
      () =>
        new Promise<void>((resolve) => {
          if (entry.state !== 'pending') resolve()
          else entry.watchers.push(resolve)
        }),
    )
    return entry
  }

  #entry(id: number, origin: PathOrigin, basePath: Path): ExportEntry {
    const entry = createEntry(id, origin, basePath)
    this.#entries.set(id, entry)
    return entry
  }

  #delete(entry: ExportEntry): void {
    this.#entries.delete(entry.id)
    if (entry.origin === 'reference') this.#idsByValue.delete(entry.value as object)
  }

  /** A sink that settles result `entry` (and sends it if it was pulled). */
  #settler(entry: ExportEntry): Sink {
    return (ok, value) => {
      entry.state = ok ? 'fulfilled' : 'rejected'
      entry.value = value
      for (const watcher of entry.watchers.splice(0)) watcher()
      if (entry.pulled && this.#entries.get(entry.id) === entry) this.#sendResult(entry)
    }
  }

  /** A sink that answers request `id` with `return` or `throw`. */
  #replier(id: number): Sink {
    return (ok, value) => this.#reply(id, ok, value)
  }

  #sendResult(entry: ExportEntry): void {
    const ok = entry.state === 'fulfilled'
    const value =
      ok && entry.byReference && typeof entry.value === 'object' && entry.value !== null
        ? new ForceReference(entry.value)
        : entry.value
    this.#reply(entry.id, ok, value)
  }

  #reply(id: number, ok: boolean, value: unknown): void {
    if (this.#closed) return
    this.#io.post([ok ? 'return' : 'throw', id, value], (error) =>
      this.#io.post(['throw', id, error], () =>
        this.#io.post([
          'throw',
          id,
          new PeerjectError(
            'ERR_REMOTE',
            `the result of request ${id} could not be sent: ${error.message}`,
          ),
        ]),
      ),
    )
  }

  /**
   * Runs `op` on export `targetId` in its queue: checks the in-flight quota, the target, the fixed
   * rules and the authorizer, then applies the operation and feeds the result to `sink`.
   */
  #operate(targetId: number, op: Operation, operation: LocalOperation, sink: Sink): void {
    const target = this.#entries.get(targetId)
    if (target === undefined) {
      sink(false, notFound(targetId))
      return
    }
    this.#run(
      target,
      () => {
        if (target.state === 'rejected') throw target.value
        if (operation.op === 'get' && operation.path.length === 0 && target.origin !== 'result') {
          throw denied(
            'get',
            target.basePath,
            'a reference is not read by value; read its properties',
          )
        }
        return applyOperation(target.value, operation)
      },
      sink,
      { op, path: [...target.basePath, ...operation.path], origin: target.origin },
    )
  }

  /**
   * Queues `work` on `entry` behind its earlier operations; screens it first when `screenWith` is
   * given. The result (awaited) goes to `sink`; the in-flight count covers the whole operation.
   */
  #run(
    entry: ExportEntry,
    work: () => unknown,
    sink: Sink,
    screenWith: { op: Operation; path: Path; origin: PathOrigin },
  ): void {
    if (this.#inFlight >= this.#io.limits.maxCallsInFlight) {
      sink(false, inFlightQuota(this.#io.peer, this.#io.limits.maxCallsInFlight))
      return
    }
    this.#inFlight++
    const finish: Sink = (ok, value) => {
      if (this.#closed) return
      this.#inFlight--
      sink(ok, value)
    }
    const execute = (): void => {
      let result: unknown
      try {
        result = work()
      } catch (error) {
        finish(false, error)
        return
      }
      Promise.resolve(result).then(
        (value) => finish(true, value),
        (error: unknown) => finish(false, error),
      )
    }
    entry.queue.push(() => {
      if (this.#closed) return undefined
      const verdict = screen(
        this.#io.authorize,
        this.#io.peer,
        screenWith.op,
        screenWith.path,
        screenWith.origin,
      )
      if (verdict === undefined) return execute()
      if (verdict instanceof PeerjectError) return finish(false, verdict)
      return verdict.then((error) => (error === undefined ? execute() : finish(false, error)))
    })
  }

  #resolveName(name: string): Promise<unknown> | unknown {
    const lookup = (error: PeerjectError | undefined): unknown => {
      if (error !== undefined) throw error
      const value = this.#io.registry.get(name)
      if (value === undefined) throw notExposed(name)
      return value
    }
    const verdict = screen(this.#io.authorize, this.#io.peer, 'resolve', [name], 'name')
    return verdict instanceof Promise ? verdict.then(lookup) : lookup(verdict)
  }
}
