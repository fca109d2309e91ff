/**
 * The demo's shared counter and board: exposed by reference (`room.expose`) by every demo page and
 * by the demo's Node peer (scripts/start.js loads this file through Vite). No DOM here.
 *
 * The objects validate everything a remote peer passes: they are an API to strangers. Callbacks
 * of peers that left (their calls reject) are dropped.
 */

/** One note on a board. */
export interface Note {
  readonly id: number
  readonly text: string
}

const MAX_STEP = 1000
const MAX_NOTES = 50
/** Longest note text. */
export const MAX_NOTE_LENGTH = 200

/** Calls every listener; drops those that throw or reject (e.g. stubs of peers that left). */
function notify<T>(listeners: Set<(value: T) => unknown>, value: T): void {
  for (const listener of listeners) {
    Promise.resolve()
      .then(() => listener(value))
      .catch(() => listeners.delete(listener))
  }
}

/** The counter this peer exposes as `counter`. */
export class SharedCounter {
  value = 0
  /** NOM-style single callback slot (`remote.onChange = fn`); `subscribe` allows several. */
  onChange: ((value: number) => void) | undefined
  readonly #listeners = new Set<(value: number) => unknown>()

  add(step: number): number {
    if (typeof step !== 'number' || !Number.isInteger(step) || Math.abs(step) > MAX_STEP) {
      throw new RangeError(`add(step) takes an integer between -${MAX_STEP} and ${MAX_STEP}`)
    }
    this.value += step
    const value = this.value
    const slot = this.onChange
    if (typeof slot === 'function') {
      Promise.resolve()
        .then(() => slot(value))
        .catch(() => {
          if (this.onChange === slot) this.onChange = undefined
        })
    }
    notify(this.#listeners, value)
    return this.value
  }

  /** Calls `listener` with every new value; returns the function that unsubscribes it. */
  subscribe(listener: (value: number) => unknown): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener) needs a function')
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }
}

/** The board this peer exposes as `board`. */
export class SharedBoard {
  readonly #notes: Note[] = []
  readonly #listeners = new Set<(notes: Note[]) => unknown>()
  #nextId = 1

  list(): Note[] {
    return [...this.#notes]
  }

  add(text: string): Note {
    if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_NOTE_LENGTH) {
      throw new RangeError(`a note is 1 to ${MAX_NOTE_LENGTH} characters of text`)
    }
    if (this.#notes.length >= MAX_NOTES) {
      throw new RangeError(`the board is full (${MAX_NOTES} notes); remove one first`)
    }
    const note = { id: this.#nextId++, text: text.trim() }
    this.#notes.push(note)
    notify(this.#listeners, this.list())
    return note
  }

  remove(id: number): boolean {
    const index = this.#notes.findIndex((note) => note.id === id)
    if (index === -1) return false
    this.#notes.splice(index, 1)
    notify(this.#listeners, this.list())
    return true
  }

  /** Calls `listener` with the notes after every change; returns the unsubscribe function. */
  subscribe(listener: (notes: Note[]) => unknown): () => void {
    if (typeof listener !== 'function') throw new TypeError('subscribe(listener) needs a function')
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }
}
