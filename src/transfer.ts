/**
 * `send(value, { transfer })`: ArrayBuffers the sender hands over instead of letting them be
 * copied, like `postMessage`'s transfer list (docs/architecture.md, "Transfer").
 *
 * By default a value is a snapshot: every binary is copied when `send` is called, so the caller
 * may change its buffers at once. A transferred buffer is not copied: the encoder frames its
 * bytes where they are, and the buffer is detached (`byteLength` 0, views of it empty), so
 * nothing can change what is being sent — a mistake shows as an empty buffer, never as data that
 * silently differs. The order matters: the codec reads the views while the buffers are attached
 * (a detached view reports offset and length 0), then {@link detachInto} moves the memory and
 * re-points the encoded parts to it. A buffer the runtime marks untransferable (Node's Buffer
 * pool) is cloned by `structuredClone` instead of moved: it stays attached, and what is sent is
 * still the bytes as they were at the call.
 */
import { PeerjectError } from './errors.js'

/** Checks a transfer list and returns it as a set (undefined for none). Throws ERR_UNSERIALIZABLE. */
export function transferSet(list: unknown): ReadonlySet<ArrayBuffer> | undefined {
  if (list === undefined) return undefined
  if (!Array.isArray(list)) {
    throw new PeerjectError('ERR_UNSERIALIZABLE', 'transfer must be an array of ArrayBuffers')
  }
  const set = new Set<ArrayBuffer>()
  for (const [index, item] of list.entries()) {
    if (!(item instanceof ArrayBuffer)) {
      const what =
        typeof SharedArrayBuffer === 'function' && item instanceof SharedArrayBuffer
          ? 'a SharedArrayBuffer, which cannot be detached; leave it out (it is copied)'
          : 'not an ArrayBuffer; list the buffers (view.buffer), not the views'
      throw new PeerjectError('ERR_UNSERIALIZABLE', `transfer[${index}] is ${what}`)
    }
    if (set.has(item)) {
      throw new PeerjectError('ERR_UNSERIALIZABLE', `transfer[${index}] is listed twice`)
    }
    set.add(item)
  }
  return set.size === 0 ? undefined : set
}

/**
 * Detaches every buffer of `transfer` and re-points the parts (of one or more encodings) that
 * view one of them to the moved memory, in place. Nothing is copied.
 */
export function detachInto(transfer: ReadonlySet<ArrayBuffer>, encodings: Uint8Array[][]): void {
  // Offsets first: once detached, a view reads as empty.
  const views: Array<{
    parts: Uint8Array[]
    index: number
    buffer: ArrayBuffer
    offset: number
    length: number
  }> = []
  for (const parts of encodings) {
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index]!
      const buffer = part.buffer as ArrayBuffer
      if (transfer.has(buffer)) {
        views.push({ parts, index, buffer, offset: part.byteOffset, length: part.byteLength })
      }
    }
  }
  const buffers = [...transfer]
  let movedBuffers: ArrayBuffer[]
  try {
    // One call: the buffers are detached together or not at all.
    movedBuffers = structuredClone(buffers, { transfer: buffers })
  } catch (error) {
    throw new PeerjectError('ERR_UNSERIALIZABLE', 'the buffers of transfer cannot be detached', {
      cause: error,
    })
  }
  const moved = new Map(buffers.map((buffer, i) => [buffer, movedBuffers[i]!]))
  for (const { parts, index, buffer, offset, length } of views) {
    parts[index] = new Uint8Array(moved.get(buffer)!, offset, length)
  }
}
