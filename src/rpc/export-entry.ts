/**
 * One entry of a session's export table, and the coded errors the exporter answers with.
 */
import { PeerjectError } from '../errors.js'
import type { PathOrigin } from './authorizer.js'
import type { Path } from './protocol.js'
import { SerialQueue } from './serial-queue.js'

/** An object served to the peer: a reference sent, a name resolved, or a call's result. */
export interface ExportEntry {
  /** Its id (negative: allocated here; positive: allocated by the peer for a result). */
  readonly id: number
  /** Where authorizer paths start for operations on it. */
  readonly origin: PathOrigin
  /** Prefix of authorizer paths (`[name]` for named objects, else empty). */
  readonly basePath: Path
  /** The peer's operations on it, in arrival order. */
  readonly queue: SerialQueue
  state: 'pending' | 'fulfilled' | 'rejected'
  /** The value, or the rejection reason. */
  value: unknown
  /** How many times the peer holds it (sent ids minus released counts). */
  refcount: number
  /** Whether the peer asked for the value (`pull`). */
  pulled: boolean
  /** Results of `new`: the value is sent by reference. */
  byReference: boolean
  /** Callbacks waiting for a pending entry to settle. */
  readonly watchers: Array<() => void>
  /** While pending: the one promise handed out for references to it (`['o', id]`). */
  settled: Promise<unknown> | undefined
}

/**
 * A pending entry held once. With `held`, its queue starts held: operations pipelined on a result
 * that has not settled wait until the exporter resumes the queue.
 */
export function createEntry(
  id: number,
  origin: PathOrigin,
  basePath: Path,
  held: boolean,
): ExportEntry {
  return {
    id,
    origin,
    basePath,
    queue: new SerialQueue(held),
    state: 'pending',
    value: undefined,
    refcount: 1,
    pulled: false,
    byReference: false,
    watchers: [],
    settled: undefined,
  }
}

/** ERR_NOT_FOUND for an export id the peer does not hold. */
export function notFound(id: number): PeerjectError {
  return new PeerjectError(
    'ERR_NOT_FOUND',
    `export ${id} does not exist on this peer (it was released or never created)`,
  )
}

/** ERR_NOT_FOUND for a name nobody exposed. */
export function notExposed(name: string): PeerjectError {
  return new PeerjectError(
    'ERR_NOT_FOUND',
    `nothing is exposed as "${name}" on this peer; check peer.list() or call room.expose("${name}", object) there`,
  )
}

/** ERR_QUOTA: the export table for `peer` is full. */
export function exportsQuota(peer: string, max: number): PeerjectError {
  return new PeerjectError(
    'ERR_QUOTA',
    `peer ${peer} holds ${max} references and results here; release stubs there (or use \`using\`), or raise limits.maxExports`,
  )
}

/** ERR_QUOTA: too many operations of `peer` in flight. */
export function inFlightQuota(peer: string, max: number): PeerjectError {
  return new PeerjectError(
    'ERR_QUOTA',
    `peer ${peer} has ${max} operations in flight here; await some first, or raise limits.maxCallsInFlight`,
  )
}

/** Marks `promise` handled (the receiver decides whether to await it); returns it. */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}
