/** Code objects panel (filled in with the code-objects feature). */
import type { Room } from 'peerject'

/** Mounts the panel; returns its cleanup. */
export function mountCode(_room: Room, _element: HTMLElement): () => void {
  return () => undefined
}
