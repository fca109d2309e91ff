/**
 * The user's own classes whose instances cross the wire by value. Both peers register the same
 * class under the same name; an instance is sent as its own enumerable fields (minus `omit`) and
 * arrives as `Object.create(ctor.prototype)` with those fields defined — the constructor is NOT
 * called, so fields it would compute (and #private fields) are absent.
 *
 * Registered Error subclasses are sent as errors (name, message, cause, stack when enabled, own
 * enumerable properties) and arrive as real errors of that class.
 */
import { PeerjectError } from '../errors.js'
import {
  isBuiltInErrorPrototype,
  nearestBuiltInError,
  type BuiltInErrorCode,
} from './error-values.js'

/** A class constructor, whatever its parameters (it is never called by the codec). */
export type ClassConstructor = abstract new (...args: never[]) => object

/** Options of {@link ClassRegistry.register}. */
export interface RegisterOptions {
  /** Name on the wire; both peers must use the same. Defaults to `ctor.name`. */
  readonly name?: string
  /** Own fields never sent (they arrive absent). */
  readonly omit?: readonly string[]
}

/** One registered class, as the codec sees it. */
export interface RegisteredClass {
  /** Name on the wire. */
  readonly name: string
  /** The class. */
  readonly ctor: ClassConstructor
  /** `ctor.prototype`: instances are matched by exact prototype identity. */
  readonly prototype: object
  /** Fields left out, or undefined when none are. */
  readonly omit: ReadonlySet<string> | undefined
  /** Nearest built-in error class when this is an Error subclass, else undefined. */
  readonly errorBase: BuiltInErrorCode | undefined
  /** True for Error subclasses. */
  readonly isError: boolean
}

/** Built-in classes whose instances already cross natively or never can: not registrable. */
const NOT_REGISTRABLE: ReadonlyArray<{ readonly prototype: object; readonly name: string }> = [
  Array,
  Map,
  Set,
  Date,
  RegExp,
  ArrayBuffer,
  DataView,
  Object.getPrototypeOf(Uint8Array) as { prototype: object; name: string },
  Promise,
  WeakMap,
  WeakSet,
]

/** Registry of the user's classes; pass it to `new Codec({ classes })` on both peers. */
export class ClassRegistry {
  readonly #byName = new Map<string, RegisteredClass>()
  readonly #byPrototype = new Map<object, RegisteredClass>()

  /**
   * Registers `ctor` so its instances cross by value. Throws ERR_UNSERIALIZABLE for a duplicate
   * name or class, an anonymous class without `options.name`, or a built-in class.
   */
  register(ctor: ClassConstructor, options?: RegisterOptions): void {
    if (
      typeof ctor !== 'function' ||
      typeof ctor.prototype !== 'object' ||
      ctor.prototype === null
    ) {
      throw new PeerjectError('ERR_UNSERIALIZABLE', 'registerClass expects a class')
    }
    const name = options?.name ?? ctor.name
    if (typeof name !== 'string' || name === '') {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        'registerClass: this class has no name; pass one: room.registerClass(MyClass, { name: "MyClass" })',
      )
    }
    const prototype = ctor.prototype as object
    if (prototype === Object.prototype) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        'registerClass(Object): plain objects cross without registration',
      )
    }
    for (const builtIn of NOT_REGISTRABLE) {
      if (
        prototype === builtIn.prototype ||
        Object.prototype.isPrototypeOf.call(builtIn.prototype, prototype)
      ) {
        throw new PeerjectError(
          'ERR_UNSERIALIZABLE',
          `registerClass(${name}): ${name === builtIn.name ? name : `subclasses of ${builtIn.name}`} cannot be registered (built-in types cross as themselves; subclasses of built-ins other than Error are not supported)`,
        )
      }
    }
    const errorBase = nearestBuiltInError(prototype)
    if (isBuiltInErrorPrototype(prototype)) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `registerClass(${name}): built-in error classes cross without registration`,
      )
    }
    if (this.#byName.has(name)) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `registerClass: the name "${name}" is already registered; pass a unique { name }`,
      )
    }
    if (this.#byPrototype.has(prototype)) {
      throw new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `registerClass(${name}): this class is already registered as "${this.#byPrototype.get(prototype)?.name ?? ''}"`,
      )
    }
    const omit = options?.omit
    const entry: RegisteredClass = {
      name,
      ctor,
      prototype,
      omit: omit !== undefined && omit.length > 0 ? new Set(omit) : undefined,
      errorBase,
      isError: errorBase !== undefined,
    }
    this.#byName.set(name, entry)
    this.#byPrototype.set(prototype, entry)
  }

  /** True when `ctorOrName` (a class or a wire name) is registered. */
  has(ctorOrName: ClassConstructor | string): boolean {
    return typeof ctorOrName === 'string'
      ? this.#byName.has(ctorOrName)
      : this.#byPrototype.has(ctorOrName.prototype as object)
  }

  /** The registered names. */
  names(): string[] {
    return [...this.#byName.keys()]
  }

  /** The class registered under `name` on the wire (used when decoding). */
  byName(name: string): RegisteredClass | undefined {
    return this.#byName.get(name)
  }

  /** The class whose prototype is exactly `prototype` (used when encoding). */
  byPrototype(prototype: object): RegisteredClass | undefined {
    return this.#byPrototype.get(prototype)
  }
}
