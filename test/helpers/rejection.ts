/**
 * The error `promise` rejects with; fails the test if it resolves. Takes any thenable: stubs are
 * callable, so `expect(stub.x()).rejects` would call the stub instead of awaiting it.
 */
export async function rejection<E = Error & { code?: string }>(
  promise: PromiseLike<unknown>,
): Promise<E> {
  return Promise.resolve(promise).then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error as E,
  )
}
