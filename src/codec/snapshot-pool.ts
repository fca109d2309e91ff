/**
 * Memory for the snapshot copies of large binaries (`Codec.encodeParts`), recycled once the send
 * that framed them is over. A 32 MiB `send` copies its binary when called (a value is sent as it
 * was at the call) into fresh memory: the operating system maps and zeroes every page on first
 * touch, and the collector frees the 32 MiB soon after. The next large send then copies into that
 * same memory instead, at the speed of a plain memory copy (docs/architecture.md, "Bulk
 * throughput").
 *
 * Only arrays this pool lent are taken back, once each, and a taken-back buffer is lent again
 * only for a copy that overwrites the whole view it hands out: nothing of an earlier message can
 * leak into a later one. Spares are bounded ({@link SNAPSHOT_POOL}) and dropped after a quiet
 * spell, so a burst of large sends does not pin memory for the life of the room.
 */

/** Bounds of {@link SnapshotPool}. */
export const SNAPSHOT_POOL = {
  /** Spare memory kept, in all. */
  maxSpareBytes: 64 * 1024 * 1024,
  /** Spares are dropped once no snapshot was taken or given back for this long. */
  idleMs: 2000,
} as const

/** Snapshot copies in recycled memory; see the file comment. */
export class SnapshotPool {
  readonly #spares: ArrayBuffer[] = []
  #spareBytes = 0
  /** Buffers lent by `copy` and not given back yet (weak: a send that never ran frees them). */
  readonly #lent = new WeakSet<ArrayBufferLike>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastUse = 0

  /** Spare memory held now, in bytes. */
  get spareBytes(): number {
    return this.#spareBytes
  }

  /** A copy of `bytes` that nothing else references, in a spare buffer when one fits. */
  copy(bytes: Uint8Array): Uint8Array {
    const length = bytes.byteLength
    const buffer = this.#take(length)
    let copy: Uint8Array
    if (buffer === undefined) {
      // `slice` skips the zero-fill of `new Uint8Array`. Called explicitly: Node's Buffer#slice
      // returns a view, not a copy.
      copy = Uint8Array.prototype.slice.call(bytes)
    } else {
      copy = new Uint8Array(buffer, 0, length)
      copy.set(bytes)
    }
    this.#lent.add(copy.buffer)
    return copy
  }

  /**
   * Takes back the copies among `parts` (others are ignored): nothing reads them any more. Call
   * once the wire settled the send (every byte handed to a transport that copies, or failed).
   */
  recycle(parts: readonly Uint8Array[]): void {
    for (const part of parts) {
      const buffer = part.buffer
      if (!this.#lent.delete(buffer) || !(buffer instanceof ArrayBuffer)) continue
      if (this.#spareBytes + buffer.byteLength > SNAPSHOT_POOL.maxSpareBytes) continue
      this.#spares.push(buffer)
      this.#spareBytes += buffer.byteLength
      this.#touch()
    }
  }

  /** Drops every spare. */
  clear(): void {
    this.#spares.length = 0
    this.#spareBytes = 0
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** A spare of at least `length` bytes and at most twice that (a small copy pins no big one). */
  #take(length: number): ArrayBuffer | undefined {
    const spares = this.#spares
    for (let i = 0; i < spares.length; i++) {
      const buffer = spares[i]!
      if (buffer.byteLength < length || buffer.byteLength > 2 * length) continue
      spares.splice(i, 1)
      this.#spareBytes -= buffer.byteLength
      this.#touch()
      return buffer
    }
    return undefined
  }

  #touch(): void {
    this.#lastUse = performance.now()
    if (this.#timer !== undefined || this.#spares.length === 0) return
    this.#arm(SNAPSHOT_POOL.idleMs)
  }

  #arm(delay: number): void {
    const timer = setTimeout(() => {
      this.#timer = undefined
      const quiet = performance.now() - this.#lastUse
      if (quiet >= SNAPSHOT_POOL.idleMs) this.clear()
      else if (this.#spares.length > 0) this.#arm(SNAPSHOT_POOL.idleMs - quiet)
    }, delay)
    // Node: a pending drop of spares must not keep the process alive.
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
    this.#timer = timer
  }
}
