/**
 * The encode walk: turns a user value into the "wire tree" that msgpackr packs — the value itself
 * where it is plain data, and tagged arrays (see tags.ts) where it is not.
 *
 * - Copy-on-write: a plain object or array whose subtree holds nothing special is passed to
 *   msgpackr as is (no copy); `tagged` stays false and the message needs no revive walk.
 * - Identity: every object gets a pre-order index when first seen; seeing it again emits
 *   `[C1, REF, index]`, which gives shared references and cycles. The decoder assigns indices in
 *   the same order, so both walks must visit children in the same order (they do: keys in
 *   `Object.keys` order, entries in iteration order, error fields in tag-slot order).
 * - Small binary leaves are packed inline (msgpack bin); large ones are not packed: their bytes
 *   go to `binaries` and the codec appends them after the body (aligned). Either way they are
 *   copied exactly once and can be decoded as views.
 * - Hazard: a plain subtree is read twice (by this walk and by msgpackr), so an accessor that
 *   returns something different each time could slip a value past the checks; msgpackr then
 *   writes it as best it can or fails (reported as ERR_UNSERIALIZABLE).
 */
import { PeerjectError } from '../errors.js'
import { classify, classifyObject, describeRefusal, type Classification } from './classify.js'
import type { ClassRegistry } from './class-registry.js'
import { errorWireClass, isAggregate } from './error-values.js'
import { EntrySegment, formatPath, type PathNamer, type PathSegment } from './path.js'
import {
  BINARY_ARRAY_BUFFER,
  BINARY_DATA_VIEW,
  EXTERNAL_KINDS,
  INLINE_BINARY_LIMIT,
  TAG,
  TAG_HEAD,
  TYPED_ARRAYS,
  type ExternalKind,
} from './tags.js'

/**
 * Hooks through which functions, by-reference objects and streams cross (the rpc layer and the
 * stream feature provide them). Without hooks such values are refused with ERR_UNSERIALIZABLE.
 */
export interface ExternalHooks {
  /**
   * Sender side: called once per distinct function, by-reference object or ReadableStream (a
   * second occurrence of the same one is sent as a reference to the first). Returns plain
   * encodable data describing it; that data may not itself contain functions or references. Or
   * returns an {@link Inline}: its value is encoded in place of `value`, as if it had been there.
   */
  export(kind: ExternalKind, value: object, path: string): unknown
  /** Receiver side: turns what `export` returned back into a live value (a stub, a stream). */
  import(kind: ExternalKind, data: unknown): unknown
  /** Names paths in error messages and in `export`'s `path` (default: from the root `value`). */
  readonly name?: PathNamer
}

/**
 * What an export hook returns to have a value encoded in place of the one it was given (the rpc
 * layer: a settled result passed as an argument crosses as its value).
 */
export class Inline {
  constructor(readonly value: unknown) {}
}

/** Settings of one encode call. */
export interface EncoderSettings {
  readonly classes: ClassRegistry | undefined
  readonly includeStacks: boolean
  readonly maxDepth: number
}

type Dict = Record<string, unknown>

/** One encode walk; not reusable. */
export class Encoder {
  /** True when the wire tree contains any tag, i.e. the receiver must run its revive walk. */
  tagged = false
  /** Large binary leaves in pre-order: appended after the body, each at an aligned offset. */
  readonly binaries: Uint8Array[] = []
  private readonly seen = new Map<object, number>()
  private count = 0
  private readonly segments: PathSegment[] = []
  private hooks: ExternalHooks | undefined
  private readonly namer: PathNamer | undefined

  constructor(
    private readonly settings: EncoderSettings,
    hooks: ExternalHooks | undefined,
  ) {
    this.hooks = hooks
    this.namer = hooks?.name
  }

  /** Encodes `value`, found at `depth` (the root is at 0). */
  value(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'object':
        return value === null ? value : this.object(value, depth)
      case 'number':
        if (value === 0 && 1 / value < 0) {
          this.tagged = true
          return [TAG_HEAD, TAG.NEG_ZERO]
        }
        return value
      case 'function':
        return this.object(value, depth)
      case 'symbol':
        throw this.refuse(value, depth)
      default:
        return value
    }
  }

  private object(value: object, depth: number): unknown {
    const index = this.seen.get(value)
    if (index !== undefined) {
      this.tagged = true
      return [TAG_HEAD, TAG.REF, index]
    }
    if (depth >= this.settings.maxDepth) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `${this.path(depth)} is nested deeper than maxDepth (${this.settings.maxDepth} levels); flatten the value or raise it: joinRoom({ limits: { maxDepth } })`,
      )
    }
    this.seen.set(value, this.count++)
    let proto: unknown
    let kind: Classification
    if (typeof value === 'function') kind = classify(value, this.settings.classes)
    else kind = classifyObject(value, (proto = Object.getPrototypeOf(value)), this.settings.classes)
    switch (kind) {
      case 'object':
        return this.plainObject(value as Dict, proto === null, depth)
      case 'array':
        return this.array(value as unknown[], depth)
      case 'date':
        return value
      case 'map':
        return this.map(value as Map<unknown, unknown>, depth)
      case 'set':
        return this.set(value as Set<unknown>, depth)
      case 'regexp':
        this.tagged = true
        return [TAG_HEAD, TAG.REGEXP, (value as RegExp).source, (value as RegExp).flags]
      case 'error':
        return this.error(value as Error, depth)
      case 'instance':
        return this.instance(value, depth)
      case 'binary':
        return this.binary(value, proto, depth)
      case 'function':
      case 'reference':
      case 'stream':
        return this.external(kind, value, depth)
      default:
        throw this.refuse(value, depth)
    }
  }

  private plainObject(object: Dict, nullPrototype: boolean, depth: number): unknown {
    const keys = Object.keys(object)
    if (nullPrototype || Object.hasOwn(object, '__proto__')) {
      return this.keyed([TAG_HEAD, TAG.OBJECT, nullPrototype], object, keys, depth)
    }
    const child = depth + 1
    let copy: Dict | undefined
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const item = object[key]
      let encoded = item
      if (needsWalk(item)) {
        this.segments[child] = key
        encoded = this.value(item, child)
      }
      if (encoded !== item) {
        // Spread clones fast and keeps a literal-like shape; later keys are read again by it.
        copy ??= { ...object }
        copy[key] = encoded
      }
    }
    return copy ?? object
  }

  private array(array: unknown[], depth: number): unknown {
    const child = depth + 1
    const length = array.length
    let copy: unknown[] | undefined
    for (let i = 0; i < length; i++) {
      const item = array[i]
      let encoded = item
      if (needsWalk(item)) {
        this.segments[child] = i
        encoded = this.value(item, child)
      }
      if (encoded !== item) {
        copy ??= array.slice()
        copy[i] = encoded
      }
    }
    return copy ?? array
  }

  /** Appends `key, encoded value` pairs for `keys` of `source` to `out` (an OBJECT/INSTANCE/ERROR tag). */
  private keyed(out: unknown[], source: Dict, keys: readonly string[], depth: number): unknown[] {
    this.tagged = true
    const child = depth + 1
    for (const key of keys) {
      this.segments[child] = key
      out.push(key, this.value(source[key], child))
    }
    return out
  }

  private map(map: Map<unknown, unknown>, depth: number): unknown {
    this.tagged = true
    const out: unknown[] = [TAG_HEAD, TAG.MAP]
    const child = depth + 1
    let i = 0
    for (const [key, item] of map) {
      this.segments[child] = new EntrySegment('map-key', i)
      const encodedKey = this.value(key, child)
      this.segments[child] = new EntrySegment('map-value', i, key)
      out.push(encodedKey, this.value(item, child))
      i++
    }
    return out
  }

  private set(set: Set<unknown>, depth: number): unknown {
    this.tagged = true
    const out: unknown[] = [TAG_HEAD, TAG.SET]
    const child = depth + 1
    let i = 0
    for (const item of set) {
      this.segments[child] = new EntrySegment('set-member', i++)
      out.push(this.value(item, child))
    }
    return out
  }

  private error(error: Error, depth: number): unknown {
    const child = depth + 1
    const name = stringOf(error.name)
    const message = stringOf(error.message)
    const stack =
      this.settings.includeStacks && typeof error.stack === 'string' ? error.stack : null
    const hasCause = Object.hasOwn(error, 'cause')
    const out: unknown[] = [TAG_HEAD, TAG.ERROR, errorWireClass(error, this.settings.classes)]
    out.push(name, message, stack, hasCause, undefined, null)
    if (hasCause) {
      this.segments[child] = 'cause'
      out[7] = this.value(error.cause, child)
    }
    if (isAggregate(error)) {
      const errors: unknown = (error as AggregateError).errors
      if (Array.isArray(errors)) {
        this.segments[child] = 'errors'
        out[8] = this.value(errors, child)
      }
    }
    return this.keyed(out, error as unknown as Dict, Object.keys(error), depth)
  }

  private instance(instance: object, depth: number): unknown {
    const registered = this.settings.classes?.byPrototype(Object.getPrototypeOf(instance) as object)
    if (registered === undefined) throw this.refuse(instance, depth)
    let keys = Object.keys(instance)
    const omit = registered.omit
    if (omit !== undefined) keys = keys.filter((key) => !omit.has(key))
    return this.keyed([TAG_HEAD, TAG.INSTANCE, registered.name], instance as Dict, keys, depth)
  }

  private binary(value: object, proto: unknown, depth: number): unknown {
    const memory = value instanceof ArrayBuffer ? value : (value as ArrayBufferView).buffer
    if (memory.byteLength === 0 && isDetached(memory)) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `${this.path(depth)} is a detached ${(value as object).constructor?.name ?? 'binary'}: its memory was transferred (a transfer list, postMessage) and can no longer be read`,
      )
    }
    let code: number
    let bytes: Uint8Array
    if (proto === Uint8Array.prototype) {
      bytes = value as Uint8Array
      // Small plain Uint8Arrays need no tag: msgpack bin unpacks as a Uint8Array view.
      if (bytes.byteLength < INLINE_BINARY_LIMIT) return bytes
      code = 1
    } else if (value instanceof ArrayBuffer) {
      code = BINARY_ARRAY_BUFFER
      bytes = new Uint8Array(value)
    } else if (value instanceof DataView) {
      code = BINARY_DATA_VIEW
      bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    } else {
      code = TYPED_ARRAYS.findIndex((ctor) => value instanceof ctor)
      if (code < 0) throw this.refuse(value, depth)
      const view = value as ArrayBufferView
      bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    }
    this.tagged = true
    if (bytes.byteLength < INLINE_BINARY_LIMIT) return [TAG_HEAD, TAG.BINARY, code, bytes]
    this.binaries.push(bytes)
    return [TAG_HEAD, TAG.BINARY, code, bytes.byteLength]
  }

  private external(kind: ExternalKind, value: object, depth: number): unknown {
    const hooks = this.hooks
    if (hooks === undefined) throw this.refuse(value, depth)
    this.tagged = true
    const data = hooks.export(kind, value, this.path(depth))
    if (data instanceof Inline) {
      // `value` never reaches the wire: give back the back-reference index it took (the last
      // one: the hook encodes nothing), so the decoder's count of objects stays in step. A
      // second occurrence of `value` asks the hook again.
      this.seen.delete(value)
      this.count--
      return this.value(data.value, depth)
    }
    const child = depth + 1
    this.segments[child] = new EntrySegment('exported', 0)
    // What the hook returned is data: it may not smuggle further references in.
    this.hooks = undefined
    try {
      return [TAG_HEAD, TAG.EXTERNAL, EXTERNAL_KINDS.indexOf(kind), this.value(data, child)]
    } finally {
      this.hooks = hooks
    }
  }

  private refuse(value: unknown, depth: number): PeerjectError {
    return new PeerjectError('ERR_UNSERIALIZABLE', describeRefusal(value, this.path(depth)))
  }

  private path(depth: number): string {
    return formatPath(this.segments, depth, this.namer)
  }
}

/** False for values that are sent exactly as they are (the fast path of the walk). */
function needsWalk(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return false
    case 'number':
      return value === 0
    case 'object':
      return value !== null
    default:
      return true
  }
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : String(value)
}

/** True for a buffer whose memory was transferred away (`ArrayBuffer#detached` is not in Node 20). */
function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer, 0, 0)
    return false
  } catch {
    return true
  }
}
