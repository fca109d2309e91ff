/** Byte helpers shared by the codec and the wire. */

/** Total length of `parts`. */
export function totalLength(parts: readonly Uint8Array[]): number {
  let total = 0
  for (const part of parts) total += part.byteLength
  return total
}

/** Writes `parts` one after another into `into` (at least their total length) and returns it. */
export function joinInto(parts: readonly Uint8Array[], into: Uint8Array): Uint8Array {
  let at = 0
  for (const part of parts) {
    into.set(part, at)
    at += part.byteLength
  }
  return into
}
