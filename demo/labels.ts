/**
 * Names of peers on the page: "Node peer · c391e587" or "page · 27abfd34". Every peer says what
 * it is with a `{ kind: 'hello', role }` value when it meets another (main.ts, and the Node peer in
 * scripts/demo-peer.js); until a peer's hello arrives it is shown by its short id alone.
 */
const roles = new Map<string, string>()
const listeners = new Set<() => void>()

/** The first 8 characters of a peer id: enough to tell peers apart on one page. */
export function shortId(id: string): string {
  return id.slice(0, 8)
}

/** How the page names peer `id`. */
export function labelOf(id: string): string {
  const role = roles.get(id)
  return role === undefined ? shortId(id) : `${role} · ${shortId(id)}`
}

/** Records what peer `id` said it is ('Node peer', 'page'); re-renders whoever listens. */
export function setRole(id: string, role: string): void {
  if (roles.get(id) === role) return
  roles.set(id, role)
  for (const listener of listeners) listener()
}

/** Calls `listener` whenever a label changes; returns the unsubscribe function. */
export function onLabels(listener: () => void): () => void {
  listeners.add(listener)
  return () => void listeners.delete(listener)
}
