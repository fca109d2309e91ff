/**
 * The revive walk: turns the wire tree msgpackr unpacked back into the user's value, in place
 * where it can (decoded arrays and objects are fresh, so their slots are overwritten). It mirrors
 * the encoder's visit order exactly so pre-order indices (REF tags) line up.
 *
 * Everything here is hostile input: every tag's shape is checked, unknown tags and misplaced
 * values are ERR_BAD_MESSAGE, keys are defined with `Object.defineProperty` (never assigned, so a
 * `__proto__` key is an own property and no setter runs), and depth is bounded.
 */
import { PeerjectError, isPeerjectError } from '../errors.js'
import type { ClassRegistry } from './class-registry.js'
import type { ExternalHooks } from './encoder.js'
import { createError, defineField, defineHidden, unknownClass } from './error-values.js'
import {
  BINARY_ARRAY_BUFFER,
  BINARY_DATA_VIEW,
  ERROR_FIELDS,
  EXTERNAL_KINDS,
  TAG,
  TAG_HEAD,
  TYPED_ARRAYS,
  alignBinary,
} from './tags.js'

/** Settings of one decode call. */
export interface DecoderSettings {
  readonly classes: ClassRegistry | undefined
  readonly maxDepth: number
}

/** Placeholder for an external value whose import has not returned yet. */
const PENDING: unique symbol = Symbol('pending import')

/** The ERR_BAD_MESSAGE every malformed input turns into. */
export function badMessage(reason: string, cause?: unknown): PeerjectError {
  return new PeerjectError(
    'ERR_BAD_MESSAGE',
    `malformed message: ${reason}`,
    cause === undefined ? undefined : { cause },
  )
}

/** One revive walk over a decoded body; not reusable. */
export class Decoder {
  private readonly objects: unknown[] = []
  /** Next binary leaf's offset in `bytes` (0 until the first one is read). */
  private cursor = 0
  /** End of the last binary leaf read, or of the body when there was none. */
  private end: number

  constructor(
    private readonly settings: DecoderSettings,
    private readonly hooks: ExternalHooks | undefined,
    /** The whole message (header included), a plain Uint8Array. */
    private readonly bytes: Uint8Array,
    bodyEnd: number,
  ) {
    this.end = bodyEnd
  }

  /** Checks that the binary section was consumed exactly. */
  finish(): void {
    if (this.end !== this.bytes.length) {
      throw badMessage(`${this.bytes.length - this.end} unexpected bytes after the last value`)
    }
  }

  /** Revives `wire`, found at `depth` (the root is at 0). */
  value(wire: unknown, depth: number): unknown {
    if (typeof wire !== 'object' || wire === null) return wire
    if (Array.isArray(wire)) {
      if (wire.length > 0 && wire[0] === TAG_HEAD) return this.tag(wire, depth)
      this.enter(depth)
      this.objects.push(wire)
      const child = depth + 1
      for (let i = 0; i < wire.length; i++) {
        const item: unknown = wire[i]
        if (typeof item === 'object' && item !== null) wire[i] = this.value(item, child)
      }
      return wire
    }
    const proto: unknown = Object.getPrototypeOf(wire)
    if (proto === Object.prototype) {
      this.enter(depth)
      this.objects.push(wire)
      const object = wire as Record<string, unknown>
      const child = depth + 1
      for (const key of Object.keys(object)) {
        const item = object[key]
        if (typeof item === 'object' && item !== null) object[key] = this.value(item, child)
      }
      return object
    }
    if (proto === Date.prototype || proto === Uint8Array.prototype) {
      // Native leaves: msgpack timestamps, and bin for small plain Uint8Arrays (a view).
      this.enter(depth)
      this.objects.push(wire)
      return wire
    }
    throw badMessage('unexpected value in the body')
  }

  private enter(depth: number): void {
    if (depth >= this.settings.maxDepth) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `received value is nested deeper than maxDepth (${this.settings.maxDepth} levels); raise it, joinRoom({ limits: { maxDepth } }), if this peer is trusted`,
      )
    }
  }

  private tag(wire: unknown[], depth: number): unknown {
    const code = wire[1]
    switch (code) {
      case TAG.REF: {
        const index = wire[2]
        if (wire.length !== 3 || !isIndex(index, this.objects.length))
          throw badMessage('bad reference')
        const target = this.objects[index]
        if (target === PENDING)
          throw badMessage('reference to an external value inside its own data')
        return target
      }
      case TAG.NEG_ZERO:
        if (wire.length !== 2) throw badMessage('bad -0')
        return -0
      default:
        this.enter(depth)
        return this.container(code, wire, depth + 1)
    }
  }

  private container(code: unknown, wire: unknown[], child: number): unknown {
    switch (code) {
      case TAG.OBJECT: {
        if (wire.length % 2 === 0) throw badMessage('bad object')
        const object = wire[2] === true ? Object.create(null) : {}
        this.objects.push(object)
        return this.fields(object as object, wire, 3, child)
      }
      case TAG.MAP: {
        if (wire.length % 2 !== 0) throw badMessage('bad Map')
        const map = new Map<unknown, unknown>()
        this.objects.push(map)
        for (let i = 2; i < wire.length; i += 2) {
          const key = this.value(wire[i], child)
          map.set(key, this.value(wire[i + 1], child))
        }
        return map
      }
      case TAG.SET: {
        const set = new Set<unknown>()
        this.objects.push(set)
        for (let i = 2; i < wire.length; i++) set.add(this.value(wire[i], child))
        return set
      }
      case TAG.REGEXP:
        return this.regexp(wire)
      case TAG.ERROR:
        return this.error(wire, child)
      case TAG.INSTANCE: {
        const name = wire[2]
        if (wire.length % 2 === 0 || typeof name !== 'string')
          throw badMessage('bad class instance')
        const registered = this.settings.classes?.byName(name)
        if (registered === undefined || registered.isError) throw unknownClass(name)
        const instance = Object.create(registered.prototype) as object
        this.objects.push(instance)
        return this.fields(instance, wire, 3, child)
      }
      case TAG.BINARY:
        return this.binary(wire)
      case TAG.EXTERNAL:
        return this.external(wire, child)
      default:
        throw badMessage(`unknown tag ${String(code)}`)
    }
  }

  /** Defines the `key, value` pairs of `wire` from `start` on as own enumerable fields. */
  private fields(target: object, wire: unknown[], start: number, child: number): object {
    for (let i = start; i < wire.length; i += 2) {
      const key = wire[i]
      if (typeof key !== 'string') throw badMessage('non-string field name')
      defineField(target, key, this.value(wire[i + 1], child))
    }
    return target
  }

  private regexp(wire: unknown[]): RegExp {
    const [, , source, flags] = wire
    if (wire.length !== 4 || typeof source !== 'string' || typeof flags !== 'string') {
      throw badMessage('bad RegExp')
    }
    let regexp: RegExp
    try {
      regexp = new RegExp(source, flags)
    } catch (error) {
      throw badMessage('invalid RegExp', error)
    }
    this.objects.push(regexp)
    return regexp
  }

  private error(wire: unknown[], child: number): Error {
    const F = ERROR_FIELDS
    const name = wire[F.NAME]
    const message = wire[F.MESSAGE]
    const stack = wire[F.STACK]
    const hasCause = wire[F.HAS_CAUSE]
    if (
      wire.length < F.PROPS ||
      (wire.length - F.PROPS) % 2 !== 0 ||
      typeof name !== 'string' ||
      typeof message !== 'string' ||
      (stack !== null && typeof stack !== 'string') ||
      typeof hasCause !== 'boolean'
    ) {
      throw badMessage('bad Error')
    }
    const error = createError(wire[F.CLASS], message, this.settings.classes)
    this.objects.push(error)
    defineHidden(error, 'stack', stack ?? (message === '' ? name : `${name}: ${message}`))
    if (hasCause) defineHidden(error, 'cause', this.value(wire[F.CAUSE], child))
    if (wire[F.ERRORS] !== null) {
      const errors = this.value(wire[F.ERRORS], child)
      if (!Array.isArray(errors)) throw badMessage('bad AggregateError errors')
      defineHidden(error, 'errors', errors)
    }
    this.fields(error, wire, F.PROPS, child)
    // After the fields: an own enumerable `name` among them keeps its place in key order.
    if (error.name !== name) defineHidden(error, 'name', name)
    return error
  }

  private binary(wire: unknown[]): unknown {
    const [, , code, payload] = wire
    if (wire.length !== 4 || typeof code !== 'number') throw badMessage('bad binary')
    const ctor = TYPED_ARRAYS[code]
    if (ctor === undefined && code !== BINARY_DATA_VIEW && code !== BINARY_ARRAY_BUFFER) {
      throw badMessage(`unknown binary type ${code}`)
    }
    // Inline bytes are a view into the message already (msgpackr's bin, copyBuffers off).
    const bytes = payload instanceof Uint8Array ? payload : this.section(payload)
    const size = ctor?.BYTES_PER_ELEMENT ?? 1
    const length = bytes.byteLength
    if (length % size !== 0) throw badMessage('binary length is not a multiple of its element size')
    const absolute = bytes.byteOffset
    let result: unknown
    if (ctor !== undefined) {
      // A view where alignment allows; an element size > 1 at an unaligned offset needs a copy.
      result =
        absolute % size === 0
          ? new ctor(bytes.buffer as ArrayBuffer, absolute, length / size)
          : new ctor(bytes.slice().buffer)
    } else if (code === BINARY_DATA_VIEW) {
      result = new DataView(bytes.buffer, absolute, length)
    } else {
      result = bytes.buffer.slice(absolute, absolute + length)
    }
    this.objects.push(result)
    return result
  }

  /** The next leaf of the binary section, `byteLength` long. */
  private section(byteLength: unknown): Uint8Array {
    if (!Number.isSafeInteger(byteLength) || (byteLength as number) < 0)
      throw badMessage('bad binary')
    const offset = this.cursor === 0 ? alignBinary(this.end) : this.cursor
    const end = offset + (byteLength as number)
    if (end > this.bytes.length) throw badMessage('binary section is truncated')
    this.end = end
    this.cursor = alignBinary(end)
    return this.bytes.subarray(offset, end)
  }

  private external(wire: unknown[], child: number): unknown {
    const kind = EXTERNAL_KINDS[wire[2] as number]
    if (wire.length !== 4 || kind === undefined) throw badMessage('bad external value')
    const hooks = this.hooks
    if (hooks === undefined) {
      throw badMessage(`a ${kind} arrived where no references are accepted (decode without hooks)`)
    }
    const slot = this.objects.length
    this.objects.push(PENDING)
    const data = this.value(wire[3], child)
    let live: unknown
    try {
      live = hooks.import(kind, data)
    } catch (error) {
      if (isPeerjectError(error)) throw error
      throw badMessage(`the import hook rejected a ${kind}`, error)
    }
    this.objects[slot] = live
    return live
  }
}

function isIndex(value: unknown, length: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < length
}
