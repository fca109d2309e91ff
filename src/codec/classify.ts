/**
 * The ONE place that decides how a value crosses the wire: by value (and as what), by reference,
 * as a stream, or not at all. The encoder, the rpc layer and the stream feature all ask
 * {@link classify}; nothing else inspects values to make that choice.
 *
 * Contract for proxies: the rpc layer's stubs answer the {@link BY_REFERENCE} symbol locally; the
 * callable ones are functions (`typeof` is 'function') and cross as functions. `classify` never calls a value, never enumerates it and
 * reads only `typeof`, that one symbol and `Symbol.asyncIterator` of non-function objects (plain
 * property reads) and prototypes (identity checks), so classifying a stub can never start a
 * remote call.
 */
import type { ClassRegistry } from './class-registry.js'

/**
 * Marks objects and classes that cross by reference. A value crosses by reference when
 * `value[BY_REFERENCE] === true`, own or inherited — so a class opts in for all its instances with
 * `get [BY_REFERENCE]() { return true }` (or `static { this.prototype[BY_REFERENCE] = true }`).
 */
export const BY_REFERENCE: unique symbol = Symbol.for('peerject.reference')

/**
 * How a value crosses the wire:
 * - 'primitive': null, undefined, boolean, number, bigint, string;
 * - 'object', 'array', 'map', 'set', 'date', 'regexp', 'error', 'binary' (typed array, DataView,
 *   ArrayBuffer), 'instance' (of a registered class): by value;
 * - 'function' (anything callable, marked or not), 'reference' (an object marked by-reference),
 *   'stream' (ReadableStream, or an async iterable that is not a plain object): through the
 *   external hooks (the rpc layer or the stream feature);
 * - 'refused': cannot cross (symbol, WeakMap, Promise, unregistered class instance, …).
 */
export type Classification =
  | 'primitive'
  | 'object'
  | 'array'
  | 'map'
  | 'set'
  | 'date'
  | 'regexp'
  | 'error'
  | 'binary'
  | 'instance'
  | 'function'
  | 'reference'
  | 'stream'
  | 'refused'

/** The coarse answer the rpc layer needs: by value, through a hook, or refused. */
export type Crossing = 'value' | 'function' | 'reference' | 'stream' | 'refused'

/**
 * Marks `value` to cross by reference: peers receive a stub whose calls and property accesses
 * come back to this object. Sets a non-enumerable `BY_REFERENCE` property; returns `value`, typed
 * as by-reference so a method returning it is typed as returning a `Remote` (src/rpc/types.ts).
 */
export function markByReference<T extends object>(value: T): T & { readonly [BY_REFERENCE]: true } {
  Object.defineProperty(value, BY_REFERENCE, { value: true, configurable: true })
  return value as T & { readonly [BY_REFERENCE]: true }
}

/** True when `value` is an object or function marked by-reference (own or inherited marker). */
export function isMarkedByReference(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    (value as { [BY_REFERENCE]?: unknown })[BY_REFERENCE] === true
  )
}

/**
 * Decides how `value` crosses the wire. `classes` is consulted for instances of registered
 * classes (and registered Error subclasses); without it every non-built-in class is refused.
 */
export function classify(value: unknown, classes?: ClassRegistry): Classification {
  const type = typeof value
  // Anything callable crosses as a function (marked or not, a function-shaped stub included), so
  // the receiver's stub of it is callable too.
  if (type === 'function') return 'function'
  if (type !== 'object') return type === 'symbol' ? 'refused' : 'primitive'
  if (value === null) return 'primitive'
  return classifyObject(value as object, Object.getPrototypeOf(value), classes)
}

/**
 * {@link classify} for a non-null object whose prototype the caller already read (the encoder's
 * hot path). Not exported from the package: {@link classify} is the public entry.
 */
export function classifyObject(
  object: object,
  proto: unknown,
  classes: ClassRegistry | undefined,
): Classification {
  if ((object as { [BY_REFERENCE]?: unknown })[BY_REFERENCE] === true) return 'reference'
  if (proto === Object.prototype || proto === null) {
    // A plain object with an async iterator is a byte stream, at any depth (as at the top).
    return typeof (object as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] ===
      'function'
      ? 'stream'
      : 'object'
  }
  if (proto === Array.prototype) return 'array'
  if (proto === Map.prototype) return 'map'
  if (proto === Set.prototype) return 'set'
  if (proto === Date.prototype) return 'date'
  if (proto === RegExp.prototype) return 'regexp'
  // Typed arrays (also subclasses such as Node's Buffer, which arrive as their base type).
  if (ArrayBuffer.isView(object) || proto === ArrayBuffer.prototype) return 'binary'
  const registered = classes?.byPrototype(proto as object)
  if (registered !== undefined) return registered.isError ? 'error' : 'instance'
  if (object instanceof Error) return 'error'
  if (typeof ReadableStream === 'function' && object instanceof ReadableStream) return 'stream'
  // Async iterables that are not plain data (async generators, Node readables) are byte streams.
  if (
    typeof (object as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  ) {
    return 'stream'
  }
  return 'refused'
}

/** Folds a {@link Classification} into the coarse {@link Crossing}. */
export function crossing(classification: Classification): Crossing {
  switch (classification) {
    case 'function':
    case 'reference':
    case 'stream':
    case 'refused':
      return classification
    default:
      return 'value'
  }
}

/** Built-ins that can never cross, with the reason shown to the user. */
const NEVER_CROSS: ReadonlyArray<readonly [string, string]> = [
  ['WeakMap', 'weak collections cannot be enumerated, so they cannot be copied'],
  ['WeakSet', 'weak collections cannot be enumerated, so they cannot be copied'],
  ['WeakRef', 'weak references cannot be copied'],
  ['FinalizationRegistry', 'finalization registries cannot be copied'],
  ['Promise', 'await it first and send the result'],
  ['SharedArrayBuffer', 'shared memory cannot cross a data channel; copy it into an ArrayBuffer'],
  ['String', 'boxed primitives cannot cross; send the primitive (value.valueOf())'],
  ['Number', 'boxed primitives cannot cross; send the primitive (value.valueOf())'],
  ['Boolean', 'boxed primitives cannot cross; send the primitive (value.valueOf())'],
  ['BigInt', 'boxed primitives cannot cross; send the primitive (value.valueOf())'],
  ['Symbol', 'symbols cannot cross the wire'],
]

/**
 * Explains why `value` (found at `path`) cannot cross; used for ERR_UNSERIALIZABLE messages. Only
 * called on the error path, so it may look harder at the value than {@link classify} does.
 */
export function describeRefusal(value: unknown, path: string): string {
  switch (typeof value) {
    case 'symbol':
      return `${path} is a symbol; symbols cannot cross the wire (send a string instead)`
    case 'function':
      return `${path} is a function; functions cannot cross the wire by value (expose it as a reference or register its class)`
    default:
      break
  }
  if (isMarkedByReference(value)) {
    return `${path} is marked by-reference, but references cannot cross here (pass it as an RPC argument or return value, or remove the marker)`
  }
  if (typeof ReadableStream === 'function' && value instanceof ReadableStream) {
    return `${path} is a ReadableStream; streams cannot cross here (send it through peer.send or an RPC call)`
  }
  const name = constructorName(value)
  if (ArrayBuffer.isView(value)) {
    return `${path} is a ${name ?? 'binary view'}; this binary type cannot cross (copy it into one of the standard typed arrays, e.g. a Float32Array)`
  }
  for (const [builtIn, reason] of NEVER_CROSS) {
    if (
      name === builtIn &&
      (globalThis as Record<string, unknown>)[builtIn] !== undefined &&
      value instanceof ((globalThis as Record<string, unknown>)[builtIn] as new () => unknown)
    ) {
      return `${path} is a ${builtIn}; ${reason}`
    }
  }
  if (name === undefined) {
    return `${path} is an object of an unknown kind; it cannot cross the wire (send plain data, or markByReference it)`
  }
  if (typeof Node === 'function' && value instanceof Node) {
    return `${path} is a DOM node (${name}); DOM nodes cannot cross the wire: send the data it shows (its text, its attributes, or outerHTML)`
  }
  if (isPlatformClass(value)) {
    return `${path} is a ${name}, an object of the platform, not data; it cannot cross the wire: send the data it holds (or markByReference it to use it remotely)`
  }
  return `${path} is an instance of ${name}, which is not a registered class; register it on both peers with room.registerClass(${name}) or joinRoom({ classes }) (or markByReference it to pass it as a reference)`
}

/** True when `value`'s constructor is built into the platform (native code): no class of the user's. */
function isPlatformClass(value: unknown): boolean {
  try {
    const ctor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(value), 'constructor')
      ?.value as unknown
    return (
      typeof ctor === 'function' &&
      /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor))
    )
  } catch {
    return false
  }
}

function constructorName(value: unknown): string | undefined {
  try {
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto === null || typeof proto !== 'object') return undefined
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown
    return typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined
  } catch {
    return undefined
  }
}
