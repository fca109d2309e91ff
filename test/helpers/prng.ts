/** xorshift32: a reproducible stream of test inputs (not for anything secret). */
export function prng(seed: number): {
  next(): number
  below(n: number): number
  bytes(n: number): Uint8Array
} {
  let state = seed >>> 0 || 1
  const next = (): number => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
  const below = (n: number): number => next() % n
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => next() & 0xff)
  return { next, below, bytes }
}
