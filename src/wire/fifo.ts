/**
 * A first-in-first-out queue with O(1) `shift` (an array with a moving head, compacted when the
 * dead prefix dominates). The scheduler's queues can hold tens of thousands of small messages.
 */
export class Fifo<T> {
  #items: Array<T | undefined> = []
  #head = 0

  /** Items in the queue. */
  get length(): number {
    return this.#items.length - this.#head
  }

  /** Appends `item`. */
  push(item: T): void {
    this.#items.push(item)
  }

  /** The first item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head]
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head++
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  /** Removes and returns every item, in order. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[]
    this.#items = []
    this.#head = 0
    return items
  }
}
