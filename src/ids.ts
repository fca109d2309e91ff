/**
 * Branded identifiers, so a peer id, a room name and an RPC id can never be mixed up at compile
 * time. Brands cost nothing at run time: they are plain strings and numbers.
 */

declare const brand: unique symbol
/** `T` tagged with the compile-time brand `B`. */
export type Brand<T, B extends string> = T & { readonly [brand]: B }

/** A peer's id, assigned by the signaling server (crypto-random). */
export type PeerId = Brand<string, 'PeerId'>
/** A room's name. */
export type RoomName = Brand<string, 'RoomName'>

/** Returns a crypto-random id (never `Math.random`). */
export function randomId(): string {
  return globalThis.crypto.randomUUID()
}
