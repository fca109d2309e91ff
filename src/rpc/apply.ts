/**
 * Applies one operation (get, set, delete, call, construct) to a local value along a property
 * path. Used on both sides:
 * - by the exporter, for a peer's operation on an exported object (after the authorizer);
 * - by a stub whose result has arrived, for operations on that local result.
 *
 * When the walk meets a stub before the end of the path, the rest of the operation is forwarded
 * to that stub: that is how a peer in the middle routes calls from one peer to another.
 */
import { PeerjectError } from '../errors.js'
import {
  builtInMethodOwner,
  forbiddenKey,
  formatPath,
  isBuiltInMember,
  readProperty,
} from './authorizer.js'
import type { Path, PathKey } from './protocol.js'
import { controllerOf, type CallOptions, type StubController } from './stub.js'

/** An operation to apply along a path. */
export type LocalOperation =
  | { readonly op: 'get'; readonly path: Path }
  | { readonly op: 'set'; readonly path: Path; readonly value: unknown }
  | { readonly op: 'delete'; readonly path: Path }
  | { readonly op: 'call' | 'construct'; readonly path: Path; readonly args: readonly unknown[] }

/**
 * Applies `operation` to `root`. Returns the result as is: it may be a promise or a thenable stub,
 * which the caller awaits. Throws ERR_DENIED for unreachable keys, TypeError for impossible steps.
 */
export function applyOperation(
  root: unknown,
  operation: LocalOperation,
  options?: CallOptions,
): unknown {
  const { op, path } = operation
  const forbidden = forbiddenKey(path)
  if (forbidden !== undefined) {
    throw new PeerjectError('ERR_DENIED', `"${String(forbidden)}" is never reachable remotely`)
  }
  if (op === 'get') {
    const walked = walk(root, path)
    return walked.stub === undefined
      ? walked.value
      : forward(walked.stub, walked.rest, operation, options)
  }
  const last = path.at(-1)
  if (last === undefined) {
    if (op === 'call' || op === 'construct') return invoke(root, undefined, operation, options)
    throw new TypeError(`cannot ${op} the reference itself; name a property`)
  }
  const parentPath = path.slice(0, -1)
  // A parent that is itself a stub gets the operation too (an awaitable set or delete, a call
  // of any member name), not a local read or write of the proxy.
  const walked = walk(root, parentPath, true)
  if (walked.stub !== undefined) {
    return forward(walked.stub, [...walked.rest, last], operation, options)
  }
  const parent = walked.value
  switch (op) {
    case 'call':
    case 'construct': {
      const fn = readProperty(parent, last)
      const builtIn = builtInMethodOwner(parent, last)
      if (builtIn !== undefined) {
        throw new PeerjectError(
          'ERR_DENIED',
          `${formatPath(path)} is a built-in method of ${builtIn}.prototype and cannot be called remotely; expose a method of your own`,
        )
      }
      return invoke(fn, parent, operation, options)
    }
    case 'set':
      return assign(parent, last, operation.value, path)
    case 'delete':
      return remove(parent, last, path)
  }
}

type Walked =
  | { readonly stub: undefined; readonly value: unknown }
  | { readonly stub: StubController; readonly rest: Path }

/**
 * Reads along `path`, stopping at a stub that still has path left below it, or (with `toStub`)
 * at a stub the path ends on.
 */
function walk(root: unknown, path: Path, toStub = false): Walked {
  let value = root
  for (let i = 0; i < path.length; i++) {
    const stub = controllerOf(value)
    if (stub !== undefined) return { stub, rest: path.slice(i) }
    value = readProperty(value, path[i] as PathKey)
  }
  const stub = toStub ? controllerOf(value) : undefined
  return stub === undefined ? { stub: undefined, value } : { stub, rest: [] }
}

/** Re-issues `operation` on `stub`, with `rest` appended to the stub's own path. */
function forward(
  stub: StubController,
  rest: Path,
  operation: LocalOperation,
  options: CallOptions | undefined,
): unknown {
  const path = [...stub.path, ...rest]
  const opts = options ?? stub.options
  const { handle } = stub
  switch (operation.op) {
    case 'get':
      return handle.get(path, opts)
    case 'set':
      return handle.set(path, operation.value, opts)
    case 'delete':
      return handle.delete(path, opts)
    case 'call':
      return handle.call(path, operation.args, opts)
    case 'construct':
      return handle.construct(path, operation.args, opts)
  }
}

function invoke(
  fn: unknown,
  thisArg: unknown,
  operation: LocalOperation & { readonly op: 'call' | 'construct' },
  options: CallOptions | undefined,
): unknown {
  const stub = controllerOf(fn)
  if (stub !== undefined) return forward(stub, [], operation, options)
  if (fn === undefined) {
    throw new PeerjectError(
      'ERR_NOT_FOUND',
      `${formatPath(operation.path)} does not exist on the exposed object`,
    )
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`${formatPath(operation.path)} is not a function`)
  }
  return operation.op === 'construct'
    ? Reflect.construct(fn, operation.args)
    : Reflect.apply(fn, thisArg, operation.args)
}

function assign(parent: unknown, key: PathKey, value: unknown, path: Path): true {
  if ((typeof parent !== 'object' && typeof parent !== 'function') || parent === null) {
    throw new TypeError(`cannot set ${formatPath(path)}: its parent is not an object`)
  }
  if (isBuiltInMember(parent, key)) {
    throw new PeerjectError('ERR_DENIED', `cannot set ${formatPath(path)}: it is a built-in`)
  }
  if (!Reflect.set(parent, key, value)) {
    throw new TypeError(`cannot set ${formatPath(path)}: the property is read-only`)
  }
  return true
}

function remove(parent: unknown, key: PathKey, path: Path): boolean {
  if ((typeof parent !== 'object' && typeof parent !== 'function') || parent === null) {
    throw new TypeError(`cannot delete ${formatPath(path)}: its parent is not an object`)
  }
  if (isBuiltInMember(parent, key)) {
    throw new PeerjectError('ERR_DENIED', `cannot delete ${formatPath(path)}: it is a built-in`)
  }
  return Reflect.deleteProperty(parent, key)
}
