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

/**
 * Copies `stream` into `out` until it ends, honouring the receiver's credit (each `write` waits).
 * Resolves when the last byte is handed over; on any failure aborts `out` and rejects.
 */
export async function pumpStream(
  stream: ReadableStream<Uint8Array>,
  out: OutgoingStream,
  signal?: AbortSignal,
): Promise<void> {
  const reader = stream.getReader()
  try {
    for (;;) {
      if (signal?.aborted === true) throw new PeerjectError('ERR_ABORTED', 'the send was aborted')
      const { value, done } = await reader.read()
      if (done) break
      if (!(value instanceof Uint8Array)) {
        throw new PeerjectError('ERR_UNSERIALIZABLE', 'byte streams carry Uint8Array chunks only')
      }
      await out.write(value, signal === undefined ? undefined : { signal })
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
    reader.releaseLock()
  }
}
