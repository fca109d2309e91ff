/** References panel (filled in with the references feature). */
import type { Room } from 'peerject'

/** Mounts the panel; returns its cleanup. */
export function mountReferences(_room: Room, _element: HTMLElement): () => void {
  return () => undefined
}
