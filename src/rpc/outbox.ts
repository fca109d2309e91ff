/**
 * What the session queues for `send`, and which messages may share one codec pass (docs/rpc.md,
 * "Batching").
 *
 * A message is normally encoded when it is posted, so what crosses is the value as it was at the
 * call (the caller may change its objects right after). A message holding only primitives —
 * numbers, booleans, null, undefined and short strings, at the top level or in its path and call
 * arguments (arrays this layer made and nobody else holds) — cannot change, so its encoding is
 * deferred to the flush, where consecutive deferred messages are encoded TOGETHER as one batch
 * message (`[message, message, …]`): one codec pass, one `send`, one decode on the other side,
 * instead of one of each per message. `await stub.echo(1)` (`release`, `call`, `pull` out;
 * `return` back) is that case. Such messages are packed with `Codec.encodePrimitives`, which skips
 * the codec's walk: nothing in them needs it (-0, the one primitive it tags, is not deferred).
 */
import type { PeerjectError } from '../errors.js'

/** One queued message: deferred (`message`) or already encoded (`bytes`). */
export interface Outgoing {
  /** The message, when its encoding is deferred to the flush. */
  readonly message: readonly unknown[] | undefined
  /** Its bytes, when it was encoded at post (it holds objects). */
  readonly bytes: Uint8Array | undefined
  /** Estimated encoded size of a deferred message (bytes). */
  readonly size: number
  /** Exports the encoding created (undone if the message cannot be sent). */
  readonly exported: readonly number[] | undefined
  /** Runs when the message could not be sent; without it the failure is reported. */
  readonly onFailure: ((error: PeerjectError) => void) | undefined
  /** Runs once the message has been handed to the channel. */
  readonly onSent: (() => void) | undefined
}

/** A deferred message bigger than this (estimated) is encoded at post, on its own. */
export const MAX_DEFERRED_BYTES = 16 * 1024

/** A batch stops growing at this estimated size; the next deferred message starts another. */
export const MAX_BATCH_BYTES = 64 * 1024

/** Strings longer than this make a message ineligible for deferral (UTF-8 may triple them). */
const MAX_DEFERRED_STRING = 1024

/** Fields that hold arrays this layer made: a path (index 3) and call/new arguments (index 4). */
const PATH_INDEX = 3
const ARGS_INDEX = 4

/**
 * The estimated encoded size of `message` when its encoding may be deferred (only primitives, as
 * described in the file comment), else -1.
 */
export function deferredSize(message: readonly unknown[]): number {
  const tag = message[0]
  let size = 1
  for (let i = 0; i < message.length; i++) {
    const value = message[i]
    if (Array.isArray(value)) {
      const ours =
        (i === PATH_INDEX && tag !== 'return' && tag !== 'throw' && tag !== 'release') ||
        (i === ARGS_INDEX && (tag === 'call' || tag === 'new'))
      if (!ours) return -1
      size += 5
      for (let j = 0; j < value.length; j++) {
        const item = primitiveSize(value[j])
        if (item < 0) return -1
        size += item
      }
      if (size > MAX_DEFERRED_BYTES) return -1
    } else {
      const item = primitiveSize(value)
      if (item < 0) return -1
      size += item
    }
  }
  return size
}

/**
 * Encoded size bound of a primitive, or -1 for objects, functions, bigints, symbols, long strings
 * and -0 (the codec tags it; a deferred message is packed without the codec's walk).
 */
function primitiveSize(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return value === 0 && 1 / value < 0 ? -1 : 9
    case 'boolean':
    case 'undefined':
      return 9
    case 'string':
      return value.length > MAX_DEFERRED_STRING ? -1 : 5 + 3 * value.length
    case 'object':
      return value === null ? 1 : -1
    default:
      return -1
  }
}

/** True when a decoded message is a batch (an array of messages) rather than one message. */
export function isBatch(message: unknown): message is readonly unknown[] {
  return Array.isArray(message) && Array.isArray(message[0])
}
