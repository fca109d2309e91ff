/**
 * Runs tasks one after another. A task that returns a promise holds the queue until it settles;
 * synchronous tasks pushed to an idle queue run at once, inside `push`. The rpc session keeps one
 * queue per export entry, so a peer's operations on one reference start in the order issued even
 * when the authorizer is async or the target is a result that has not settled yet.
 */
export class SerialQueue {
  readonly #tasks: Array<() => unknown> = []
  #running = false
  #closed = false

  /** Appends `task`. A task must handle its own errors; a throw or rejection is swallowed. */
  push(task: () => unknown): void {
    if (this.#closed) return
    this.#tasks.push(task)
    if (!this.#running) this.#run()
  }

  /** Drops queued tasks and refuses new ones; a running task finishes. */
  close(): void {
    this.#closed = true
    this.#tasks.length = 0
  }

  /** Whether tasks are queued or running. */
  get busy(): boolean {
    return this.#running
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
        const resume = (): void => this.#run()
        ;(result as PromiseLike<unknown>).then(resume, resume)
        return
      }
    }
    this.#running = false
  }
}
