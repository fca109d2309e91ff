/**
 * Objects a room exposes by name (`room.expose(name, object)`). One registry is shared by every
 * peer session of a room: a session looks a name up when its peer resolves it, so exposing or
 * unexposing affects later `resolve`s only — references already handed out stay valid until
 * their holder releases them.
 */

/** Name → object table shared by the rpc sessions of one room. */
export class ExportRegistry {
  readonly #objects = new Map<string, object>()

  /**
   * Exposes `value` (an object or a function) as `name`. Replaces an earlier object of that name.
   * Names starting with `_` are allowed here but unreachable under the default authorizer.
   * Throws TypeError for an empty name or a primitive value.
   */
  expose(name: string, value: object): void {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError('expose(name, value) needs a non-empty string name')
    }
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
      throw new TypeError(
        `expose("${name}", value) needs an object or a function; wrap a ${value === null ? 'null' : typeof value} in an object`,
      )
    }
    this.#objects.set(name, value)
  }

  /** Removes `name`; returns whether it was exposed. */
  unexpose(name: string): boolean {
    return this.#objects.delete(name)
  }

  /** The object exposed as `name`, or undefined. */
  get(name: string): object | undefined {
    return this.#objects.get(name)
  }

  /** Whether `name` is exposed. */
  has(name: string): boolean {
    return this.#objects.has(name)
  }

  /** The exposed names, in the order they were first exposed. */
  names(): string[] {
    return [...this.#objects.keys()]
  }
}
