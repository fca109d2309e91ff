/**
 * What a peer may reach: the authorizer hook, its default, and the rules no authorizer can lift.
 *
 * Order of checks for every incoming operation (docs/rpc.md, "Authorization"):
 * 1. {@link forbiddenKey}: `__proto__`, `constructor`, `prototype` (and symbols, which cannot even
 *    be encoded in a path) are refused before the authorizer is asked;
 * 2. the {@link Authorizer} (default {@link defaultAuthorizer}: no path segment may start with `_`);
 * 3. while walking the path, {@link readProperty} refuses properties that an object only inherits
 *    from `Object.prototype` or `Function.prototype` (`toString`, `hasOwnProperty`, `call`, `bind`,
 *    `apply`, …): those are the runtime's, not the exposed object's.
 */
import { PeerjectError } from '../errors.js'
import type { Operation, Path, PathKey } from './protocol.js'

/**
 * Where the screened path starts:
 * - 'name': at an object exposed by name; `path[0]` is that name;
 * - 'reference': at a function or by-reference object this side sent to the peer;
 * - 'result': at the result of an earlier call of the peer.
 */
export type PathOrigin = 'name' | 'reference' | 'result'

/**
 * Screens one operation of `peer`. `path` starts with the exposed name for named objects
 * (`['counter', 'add']`), and is relative to the reference otherwise (`[]` when a callback is
 * called). Returning false (or a promise of false), throwing or rejecting denies: the caller's
 * promise rejects ERR_DENIED; nothing else is affected. May be async; operations of one peer on one
 * reference still start in the order issued.
 */
export type Authorizer = (
  peer: string,
  operation: Operation,
  path: Path,
  origin: PathOrigin,
) => boolean | Promise<boolean>

/** Never reachable remotely, whatever the authorizer says. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * The default authorizer: denies any path with a segment that starts with `_`. A custom authorizer
 * replaces it; call it first to keep the rule:
 * `authorize: (peer, op, path, origin) => defaultAuthorizer(peer, op, path) && mine(peer, op, path)`.
 */
export function defaultAuthorizer(_peer: string, _operation: Operation, path: Path): boolean {
  // Loops rather than `some`/`find` with a closure: both run for every operation of every peer.
  for (let i = 0; i < path.length; i++) {
    const key = path[i]
    if (typeof key === 'string' && key.charCodeAt(0) === UNDERSCORE) return false
  }
  return true
}

const UNDERSCORE = 0x5f

/** The first segment of `path` that is never reachable, or undefined. */
export function forbiddenKey(path: readonly unknown[]): unknown {
  for (let i = 0; i < path.length; i++) {
    const key = path[i]
    if (typeof key === 'symbol' || (typeof key === 'string' && FORBIDDEN_KEYS.has(key))) return key
  }
  return undefined
}

/** Formats a path for messages: `counter.items[2]`. */
export function formatPath(path: readonly unknown[]): string {
  let text = ''
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key))
      text += text === '' ? key : `.${key}`
    else text += `[${JSON.stringify(String(key))}]`
  }
  return text === '' ? '(the reference itself)' : text
}

/** ERR_DENIED for `operation` on `path`. */
export function denied(
  operation: Operation,
  path: Path,
  why: string,
  cause?: unknown,
): PeerjectError {
  const message = `${operation} ${formatPath(path)} was denied: ${why}`
  return new PeerjectError('ERR_DENIED', message, cause === undefined ? undefined : { cause })
}

/**
 * Runs the fixed rules, then `authorize`. Returns undefined when allowed, the ERR_DENIED error when
 * not, or a promise of either when the authorizer is async.
 */
export function screen(
  authorize: Authorizer,
  peer: string,
  operation: Operation,
  path: Path,
  origin: PathOrigin,
): PeerjectError | undefined | Promise<PeerjectError | undefined> {
  const forbidden = forbiddenKey(path)
  if (forbidden !== undefined) {
    return denied(operation, path, `"${String(forbidden)}" is never reachable remotely`)
  }
  let verdict: boolean | Promise<boolean>
  try {
    verdict = authorize(peer, operation, path, origin)
  } catch (error) {
    return refused(operation, path, peer, error)
  }
  if (verdict === true) return undefined
  if (verdict === false || typeof (verdict as { then?: unknown })?.then !== 'function') {
    return refused(operation, path, peer)
  }
  return Promise.resolve(verdict).then(
    (ok) => (ok === true ? undefined : refused(operation, path, peer)),
    (error: unknown) => refused(operation, path, peer, error),
  )
}

function refused(operation: Operation, path: Path, peer: string, cause?: unknown): PeerjectError {
  return denied(operation, path, `the authorizer of this peer refused peer ${peer}`, cause)
}

/**
 * Reads `target[key]` for a remote peer: primitives are boxed (so `length` of a string works);
 * a property found only on `Object.prototype` or `Function.prototype` is refused with ERR_DENIED;
 * a missing property reads as undefined; reading from null or undefined is a TypeError.
 */
export function readProperty(target: unknown, key: PathKey): unknown {
  if (target === null || target === undefined) {
    throw new TypeError(`cannot read "${String(key)}" of ${String(target)}`)
  }
  const object: object = Object(target) as object
  const owner = propertyOwner(object, key)
  if (owner === Object.prototype || owner === Function.prototype) {
    throw new PeerjectError(
      'ERR_DENIED',
      `"${String(key)}" is a built-in of ${owner === Object.prototype ? 'Object' : 'Function'}.prototype and is not reachable remotely`,
    )
  }
  return Reflect.get(object, key, object)
}

/** The object on `object`'s prototype chain that owns `key`, or null. */
export function propertyOwner(object: object, key: PathKey): object | null {
  for (let current: object | null = object; current !== null;) {
    if (Object.prototype.hasOwnProperty.call(current, key)) return current
    current = Object.getPrototypeOf(current) as object | null
  }
  return null
}

/** Prototypes already classified by {@link builtInMethodOwner}: the built-in's name, or ''. */
const prototypeKinds = new WeakMap<object, string>()

const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/

/**
 * When `target[key]` is inherited from a built-in prototype (String, Array, Map, a typed array, a
 * DOM class…), that built-in's name; else undefined. Peers may read such members (`length`,
 * `size`) but not call them: `'x'.repeat(n)` would let a 40-byte request allocate hundreds of MiB
 * here, and `push`, `splice`, `clear` or `set` would change exposed arrays and maps behind the
 * methods their owner wrote. Own properties and methods of the app's classes are not built-ins.
 */
export function builtInMethodOwner(target: unknown, key: PathKey): string | undefined {
  if (target === null || target === undefined) return undefined
  const object: object = Object(target) as object
  const owner = propertyOwner(object, key)
  if (owner === null || owner === object) return undefined
  let kind = prototypeKinds.get(owner)
  if (kind === undefined) {
    const ctor: unknown = Object.prototype.hasOwnProperty.call(owner, 'constructor')
      ? (owner as { constructor: unknown }).constructor
      : undefined
    kind =
      typeof ctor === 'function' && NATIVE_SOURCE.test(Function.prototype.toString.call(ctor))
        ? ctor.name || 'a built-in'
        : ''
    prototypeKinds.set(owner, kind)
  }
  return kind === '' ? undefined : kind
}

/** True when assigning or deleting `key` on `object` would touch a runtime built-in. */
export function isBuiltInMember(object: object, key: PathKey): boolean {
  const owner = propertyOwner(object, key)
  return owner === Object.prototype || owner === Function.prototype
}
