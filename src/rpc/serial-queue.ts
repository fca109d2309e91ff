/**
 * Runs tasks one after another. A task that returns a promise holds the queue until it settles;
 * synchronous tasks pushed to an idle queue run at once, inside `push`. The rpc session keeps one
 * queue per export entry, so a peer's operations on one reference start in the order issued even
 * when the authorizer is async or the target is a result that has not settled yet (its queue is
 * created held, and resumed when the result settles).
 */
export class SerialQueue {
  readonly #tasks: Array<() => unknown> = []
  #running = false
  #held: boolean
  #closed = false

  /** `held`: queue tasks without running them until {@link resume}. */
  constructor(held = false) {
    this.#held = held
  }

  /** Appends `task`. A task must handle its own errors; a throw or rejection is swallowed. */
  push(task: () => unknown): void {
    if (this.#closed) return
    this.#tasks.push(task)
    if (!this.#running && !this.#held) this.#run()
  }

  /** Runs the tasks queued while held, and later ones as they come. */
  resume(): void {
    if (!this.#held) return
    this.#held = false
    if (!this.#running && this.#tasks.length > 0) this.#run()
  }

  /** Drops queued tasks and refuses new ones; a running task finishes. */
  close(): void {
    this.#closed = true
    this.#tasks.length = 0
  }

  /** Whether tasks are running, or held. */
  get busy(): boolean {
    return this.#running || this.#held
  }

  #run(): void {
    this.#running = true
    for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
      let result: unknown
      try {
        result = task()
      } catch {
        continue
      }
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        ;(result as PromiseLike<unknown>).then(
          () => this.#run(),
          () => this.#run(),
        )
        return
      }
    }
    this.#running = false
  }
}
