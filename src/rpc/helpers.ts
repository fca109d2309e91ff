/**
 * Functions that act on stubs. They are functions, not stub methods, so a remote object's own
 * members named `set`, `release` or `options` stay reachable through the stub.
 */
import { BY_REFERENCE } from '../codec/index.js'
import { controllerOf, createProxy, StubController, type CallOptions } from './stub.js'
import type { Passable } from './types.js'

/**
 * Base class for objects that cross by reference: peers receive a stub of an instance, never a
 * copy. The marker is an inherited getter, so instances stay plain otherwise. (For an object you
 * cannot subclass, `markByReference(object)` from the codec does the same.)
 */
export class RpcTarget {
  /** Read by the codec: instances cross by reference. */
  get [BY_REFERENCE](): true {
    return true
  }
}

/** True when `value` is a peerject stub (of any session). Never starts a remote call. */
export function isStub(value: unknown): boolean {
  return controllerOf(value) !== undefined
}

function controllerFor(stub: unknown, what: string) {
  const controller = controllerOf(stub)
  if (controller === undefined) throw new TypeError(`${what} expects a stub from peer.resolve()`)
  return controller
}

/**
 * A view of `stub` whose calls and reads use `options`: `withOptions(api, { timeoutMs: 500 })
 * .slow()` rejects ERR_TIMEOUT after 500 ms, `{ signal }` rejects ERR_ABORTED when aborted. The
 * timeout runs from the moment the call is issued until its value arrives; a local rejection
 * does not cancel the remote execution (its late result is dropped). Paths and results below the
 * view inherit the options.
 */
export function withOptions<T extends object>(stub: T, options: CallOptions): T {
  const controller = controllerFor(stub, 'withOptions(stub, options)')
  const { timeoutMs } = options
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    throw new RangeError(
      `withOptions: timeoutMs must be a positive number of milliseconds (Infinity: none), got ${String(timeoutMs)}`,
    )
  }
  const merged: CallOptions = { ...controller.options, ...options }
  return createProxy(new StubController(controller.handle, controller.path, merged)) as T
}

/**
 * What a callback slot (`remote.onChange`, an optional function property) is typed as, so that
 * `await set(remote.onChange, fn)` compiles too; at run time it is a path of the stub like any other.
 */
type CallbackSlotTarget = ((...args: never[]) => unknown) | null | undefined

/**
 * Awaitable assignment: `await set(remote.prop, value)` resolves once the peer has assigned, and
 * rejects with the peer's error (ERR_DENIED, a setter's throw…). A plain `remote.prop = value`
 * sends the same message without waiting; its failure goes to the session's `onError`.
 */
export async function set<V>(target: PromiseLike<V>, value: Passable<V>): Promise<void>
export async function set(target: CallbackSlotTarget, value: CallbackSlotTarget): Promise<void>
export async function set(target: unknown, value: unknown): Promise<void> {
  const controller = controllerFor(target, 'set(remote.prop, value)')
  if (controller.path.length === 0) {
    throw new TypeError('set(remote.prop, value) needs a property path, not a stub itself')
  }
  await controller.handle.set(controller.path, value, controller.options)
}

/**
 * Awaitable delete: `await remove(remote.prop)` resolves with what `delete` returned on the peer.
 * A plain `delete remote.prop` sends the same message without waiting.
 */
export async function remove(target: PromiseLike<unknown>): Promise<boolean> {
  const controller = controllerFor(target, 'remove(remote.prop)')
  if (controller.path.length === 0) {
    throw new TypeError('remove(remote.prop) needs a property path, not a stub itself')
  }
  return (await controller.handle.delete(controller.path, controller.options)) === true
}

/**
 * Releases the stub now (the same as `stub[Symbol.dispose]()`; `using` calls it for you): the peer
 * may free the object, and later operations on any proxy of this stub reject ERR_CLOSED.
 * Releasing a property path releases the stub it belongs to. Idempotent; forgotten stubs are
 * released when garbage-collected.
 */
export function release(stub: object): void {
  controllerFor(stub, 'release(stub)').handle.release()
}
