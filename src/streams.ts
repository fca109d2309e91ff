/**
 * Byte streams inside values: a `ReadableStream<Uint8Array>` (or an async iterable of Uint8Array)
 * anywhere in a sent value crosses as a wire stream; the receiver gets a `ReadableStream` with
 * end-to-end backpressure (the wire's per-stream credit; a slow reader slows the sender).
 */
import { PeerjectError } from './errors.js'
import type { OutgoingStream } from './wire/index.js'

/** True for anything `for await` can read (and not a string or typed array). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' &&
    !(value instanceof ReadableStream)
  )
}

/** Wraps an async iterable of byte chunks into a ReadableStream (pull-driven: no read-ahead). */
export function iterableToStream(iterable: AsyncIterable<unknown>): ReadableStream<Uint8Array> {
  const iterator = iterable[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next()
      if (done === true) {
        controller.close()
        return
      }
      if (!(value instanceof Uint8Array)) {
        controller.error(
          new PeerjectError('ERR_UNSERIALIZABLE', 'byte streams carry Uint8Array chunks only'),
        )
        return
      }
      controller.enqueue(value)
    },
    async cancel(reason) {
      await iterator.return?.(reason)
    },
  })
}

/** Small chunks are gathered into writes of about this size (see `pumpStream`). */
const GATHER_BYTES = 16 * 1024

const NOT_READY_MARK = Symbol('not ready')
/** Settled already: loses a race only to a read that was settled before the race began. */
const NOT_READY = Promise.resolve(NOT_READY_MARK)

function bytesOf(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new PeerjectError('ERR_UNSERIALIZABLE', 'byte streams carry Uint8Array chunks only')
  }
  return value
}

function copyInto(target: Uint8Array, source: Uint8Array): Uint8Array {
  target.set(source)
  return target
}

/**
 * Copies `source` (a byte stream, or an async iterable of Uint8Array) into `out` until it ends,
 * honouring the receiver's credit (each `write` waits). Resolves when the last byte is handed
 * over. Rejects, after aborting `out` and cancelling `source`, when the source fails, `signal`
 * aborts (ERR_ABORTED), or the stream ends on the wire first: the reader cancelled it
 * (ERR_ABORTED) or the session closed. That also holds while the source is slow to produce.
 */
export async function pumpStream(
  source: ReadableStream<Uint8Array> | AsyncIterable<unknown>,
  out: OutgoingStream,
  signal?: AbortSignal,
): Promise<void> {
  const stream = source instanceof ReadableStream ? source : iterableToStream(source)
  const reader = stream.getReader()
  const onAbort = (): void => out.abort(new PeerjectError('ERR_ABORTED', 'the send was aborted'))
  signal?.addEventListener('abort', onAbort, { once: true })
  // Set when the stream is over on the wire (cancelled by the reader, aborted, session closed)
  // before the source is: a reason to stop, also while a read from the source is pending, which
  // the cancel wakes. (Not Promise.race against `finished`: every race would leave a reaction on
  // that long-lived promise, keeping each chunk read alive until the stream ends.)
  let over: PeerjectError | undefined
  void out.finished.then((reason) => {
    if (reason === undefined) return
    over = reason
    reader.cancel(reason).catch(() => undefined)
  })
  // One read ahead of the write in progress. Marked handled: if the pump stops early, releasing
  // the reader rejects it, and nobody awaits it any more.
  const readAhead = (): Promise<ReadableStreamReadResult<Uint8Array>> => {
    const next = reader.read()
    next.catch(() => undefined)
    return next
  }
  try {
    let read = readAhead()
    // A large chunk read while gathering small ones: written on its own, next.
    let carried: Uint8Array | undefined
    for (;;) {
      if (signal?.aborted === true) throw new PeerjectError('ERR_ABORTED', 'the send was aborted')
      let chunk: Uint8Array
      if (carried !== undefined) {
        chunk = carried
        carried = undefined
      } else {
        const next = await read
        if (over !== undefined) throw over
        if (next.done) break
        chunk = bytesOf(next.value)
        read = readAhead()
      }
      if (chunk.byteLength < GATHER_BYTES) {
        // Small chunks the source already has ready go out together: one frame per 100-byte
        // chunk ran at a few MiB/s. A read that is not ready yet is kept for the next turn.
        let gathered: Uint8Array | undefined
        let size = chunk.byteLength
        while (size < GATHER_BYTES) {
          const ready = await Promise.race([read, NOT_READY])
          if (ready === NOT_READY_MARK || ready.done) break
          const more = bytesOf(ready.value)
          read = readAhead()
          if (more.byteLength >= GATHER_BYTES) {
            carried = more
            break
          }
          gathered ??= copyInto(new Uint8Array(GATHER_BYTES * 2), chunk)
          gathered.set(more, size)
          size += more.byteLength
        }
        if (gathered !== undefined) chunk = gathered.subarray(0, size)
      }
      await out.write(chunk)
    }
    await out.end()
  } catch (error) {
    const reason =
      error instanceof PeerjectError
        ? error
        : new PeerjectError('ERR_ABORTED', 'the stream being sent failed', { cause: error })
    out.abort(reason)
    await reader.cancel(reason).catch(() => undefined)
    throw reason
  } finally {
    signal?.removeEventListener('abort', onAbort)
    reader.releaseLock()
  }
}
