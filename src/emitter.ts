/**
 * A minimal typed event emitter (no Node `events` dependency, so browser bundles need no
 * polyfill). Listener exceptions are isolated: one throwing listener never stops the others and
 * never reaches the code that emitted; it is reported through `queueMicrotask` so it is still
 * visible as an uncaught error.
 */

/** Event name → listener argument tuple. */
export type EventMap = Record<string, readonly unknown[]>

/** A listener for event `K` of map `M`. */
export type Listener<M extends EventMap, K extends keyof M> = (...args: M[K]) => void

/** Typed emitter: `on` returns an unsubscribe function. */
export class Emitter<M extends EventMap> {
  readonly #listeners = new Map<keyof M, Set<Listener<M, keyof M>>>()

  /** Adds `listener` for `event`; returns a function that removes it. */
  on<K extends keyof M>(event: K, listener: Listener<M, K>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener as Listener<M, keyof M>)
    return () => this.off(event, listener)
  }

  /** Adds a listener that runs once. */
  once<K extends keyof M>(event: K, listener: Listener<M, K>): () => void {
    const off = this.on(event, (...args) => {
      off()
      listener(...args)
    })
    return off
  }

  /** Removes `listener` from `event`. */
  off<K extends keyof M>(event: K, listener: Listener<M, K>): void {
    this.#listeners.get(event)?.delete(listener as Listener<M, keyof M>)
  }

  /** Number of listeners on `event`. */
  listenerCount(event: keyof M): number {
    return this.#listeners.get(event)?.size ?? 0
  }

  /** Calls every listener of `event`; returns whether there was any. */
  protected emit<K extends keyof M>(event: K, ...args: M[K]): boolean {
    const set = this.#listeners.get(event)
    if (set === undefined || set.size === 0) return false
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
    return true
  }

  /** Removes every listener. */
  protected removeAllListeners(): void {
    this.#listeners.clear()
  }
}
