/**
 * Errors on the wire: which class an error is sent as, and how a received one is rebuilt.
 *
 * An error crosses as its class, `name`, `message`, `cause` (when it has one), `errors`
 * (AggregateError), own enumerable properties and — only with `includeStacks` — `stack`. It is
 * rebuilt with `Reflect.construct(nativeBase, [message], Class)`: a real error object (so
 * `Error.isError`, `util.inspect` and devtools treat it as one) whose prototype is the class's,
 * without running the class's constructor.
 *
 * The class sent is the nearest one both sides know: the error's own class when registered, else
 * its nearest registered or built-in ancestor. An unregistered `class HttpError extends Error`
 * therefore arrives as an `Error` — with its `name` and own properties intact.
 */
import { PeerjectError, STANDARD_ERROR_CLASSES } from '../errors.js'
import type { ClassRegistry } from './class-registry.js'

/** Built-in error classes by wire code; PeerjectError is built in (both peers always have it). */
const BUILT_IN_ERRORS: readonly ErrorConstructor[] = [
  ...STANDARD_ERROR_CLASSES,
  AggregateError as unknown as ErrorConstructor,
  PeerjectError as unknown as ErrorConstructor,
]
/** Wire code of PeerjectError in {@link BUILT_IN_ERRORS}. */
const PEERJECT_ERROR_CODE = 8
/** Wire code of AggregateError in {@link BUILT_IN_ERRORS}. */
const AGGREGATE_ERROR_CODE = 7

/** Index into the built-in error table (0 Error … 7 AggregateError, 8 PeerjectError). */
export type BuiltInErrorCode = number

/** The built-in error class code of exactly `prototype`, or undefined. */
function builtInCode(prototype: unknown): BuiltInErrorCode | undefined {
  for (let i = 0; i < BUILT_IN_ERRORS.length; i++) {
    if (BUILT_IN_ERRORS[i]?.prototype === prototype) return i
  }
  return undefined
}

/** True when `prototype` is the prototype of a built-in error class (or PeerjectError). */
export function isBuiltInErrorPrototype(prototype: object): boolean {
  return builtInCode(prototype) !== undefined
}

/** Code of the nearest built-in error class on `prototype`'s chain (itself included). */
export function nearestBuiltInError(prototype: object): BuiltInErrorCode | undefined {
  for (let p: unknown = prototype; p !== null && p !== undefined; p = Object.getPrototypeOf(p)) {
    const code = builtInCode(p)
    if (code !== undefined) return code
  }
  return undefined
}

/** The class an error is sent as: a built-in code or a registered class name. */
export function errorWireClass(error: object, classes: ClassRegistry | undefined): number | string {
  for (let p: unknown = Object.getPrototypeOf(error); p !== null; p = Object.getPrototypeOf(p)) {
    const registered = classes?.byPrototype(p as object)
    if (registered !== undefined) return registered.name
    const code = builtInCode(p)
    if (code !== undefined) return code
  }
  return 0
}

/** True when `error`'s `errors` must be sent (it is, or derives from, AggregateError). */
export function isAggregate(error: object): boolean {
  return error instanceof AggregateError
}

/**
 * Creates the error a received ERROR tag describes, before its cause, errors and properties are
 * filled in (so cycles through them resolve to it). Throws ERR_BAD_MESSAGE for an unknown class.
 */
export function createError(
  wireClass: unknown,
  message: string,
  classes: ClassRegistry | undefined,
): Error {
  let newTarget: ErrorConstructor
  let base: BuiltInErrorCode
  if (typeof wireClass === 'number') {
    const ctor = BUILT_IN_ERRORS[wireClass]
    if (ctor === undefined) {
      throw new PeerjectError('ERR_BAD_MESSAGE', `unknown built-in error class code ${wireClass}`)
    }
    newTarget = ctor
    base = wireClass
  } else if (typeof wireClass === 'string') {
    const registered = classes?.byName(wireClass)
    if (registered === undefined || registered.errorBase === undefined) {
      throw unknownClass(wireClass, registered !== undefined)
    }
    newTarget = registered.ctor as unknown as ErrorConstructor
    base = registered.errorBase
  } else {
    throw new PeerjectError('ERR_BAD_MESSAGE', 'malformed error: bad class field')
  }
  // PeerjectError (and its subclasses) are built on a plain Error: its constructor is never run.
  const nativeBase = base === PEERJECT_ERROR_CODE ? Error : (BUILT_IN_ERRORS[base] ?? Error)
  const args: unknown[] = base === AGGREGATE_ERROR_CODE ? [[], message] : [message]
  return Reflect.construct(nativeBase, args, newTarget) as Error
}

/** The ERR_BAD_MESSAGE for a class name the receiver does not know. */
export function unknownClass(name: string, registeredAsNonError = false): PeerjectError {
  return new PeerjectError(
    'ERR_BAD_MESSAGE',
    registeredAsNonError
      ? `received an error of class "${name}", but "${name}" is registered here as a class that is not an Error; register the same class on both peers`
      : `received an instance of class "${name}", which is not registered here; register it on this peer too: room.registerClass(${name}) or joinRoom({ classes })`,
  )
}

/** Defines `key` as a non-enumerable own data property, as the Error constructor does. */
export function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: false,
    configurable: true,
  })
}

/** Defines `key` as an ordinary enumerable own data property (safe for `__proto__`, no setters). */
export function defineField(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  })
}
