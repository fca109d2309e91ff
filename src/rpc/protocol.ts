/**
 * The rpc wire messages, and the type guards that admit them. docs/rpc.md describes the same
 * messages for people; keep the two in step.
 *
 * Every message is a plain array whose first element names it. It is encoded by the codec with
 * the session's external hooks, so functions and by-reference objects inside `args`, `value` and
 * `error` travel as {@link RefData} (see below). Several messages may travel as one batch, an
 * array of messages (src/rpc/outbox.ts); each is then checked and handled in order.
 *
 * Ids (captp-style, counters never random). Each session holds an export table (objects it
 * serves to its peer) and an import table (objects the peer serves to it); an id names an entry
 * in the EXPORTER's table, and the importer uses the same number for its import. The side that
 * allocates the id is told by the sign:
 * - negative (-1, -2, …): allocated by the exporter, when it sends a function or a by-reference
 *   object inside a value;
 * - positive (1, 2, …): allocated by the importer (the caller), for the result of a `resolve`,
 *   `call` or `new` it issues. The caller can target that id at once (promise pipelining).
 *   Request ids of `get`/`set`/`delete`/`list` come from the same counter but create no entry.
 */

/** One step of a property path: a property name or an array index. */
export type PathKey = string | number

/** A property path below a target. */
export type Path = readonly PathKey[]

/**
 * How a reference travels inside a value (what the export hook returns, what the import hook gets):
 * - `['e', id]`: an entry of the SENDER's export table (id < 0); the receiver imports it;
 * - `['o', id]`: an entry of the RECEIVER's export table (a stub going home); the receiver
 *   substitutes the original object.
 */
export type RefData = readonly ['e', number] | readonly ['o', number]

/** Names the importer (the sender of the message) allocated id for a result (`answer`). */
export type ResolveMessage = readonly ['resolve', answer: number, name: string]
/** Calls `target.path(...args)`; the result becomes export `answer` (sent only when pulled). */
export type CallMessage = readonly [
  'call',
  answer: number,
  target: number,
  path: Path,
  args: readonly unknown[],
]
/** `new target.path(...args)`; the instance becomes export `answer`, always sent by reference. */
export type NewMessage = readonly [
  'new',
  answer: number,
  target: number,
  path: Path,
  args: readonly unknown[],
]
/** Reads `target.path`; answered with `return`/`throw` for `request`. */
export type GetMessage = readonly ['get', request: number, target: number, path: Path]
/** Assigns `target.path = value`; answered with `return`/`throw` for `request`. */
export type SetMessage = readonly [
  'set',
  request: number,
  target: number,
  path: Path,
  value: unknown,
]
/** Deletes `target.path`; answered with `return`/`throw` for `request`. */
export type DeleteMessage = readonly ['delete', request: number, target: number, path: Path]
/** Asks for the names the receiver exposes; answered with `return`/`throw` for `request`. */
export type ListMessage = readonly ['list', request: number]
/** Asks for answer `answer`'s value (by value); answered with `return`/`throw` for `answer`. */
export type PullMessage = readonly ['pull', answer: number]
/** The value of a request or a pulled answer (ids are the ones the receiver allocated). */
export type ReturnMessage = readonly ['return', id: number, value: unknown]
/** The error of a request or an answer (an unpulled answer's `throw` means it was dropped). */
export type ThrowMessage = readonly ['throw', id: number, error: unknown]
/** The sender drops `count` of its imports of the receiver's export `id`. */
export type ReleaseMessage = readonly ['release', id: number, count: number]

/** Every rpc message. */
export type RpcMessage =
  | ResolveMessage
  | CallMessage
  | NewMessage
  | GetMessage
  | SetMessage
  | DeleteMessage
  | ListMessage
  | PullMessage
  | ReturnMessage
  | ThrowMessage
  | ReleaseMessage

/** Operations that act on a target and are screened by the authorizer. */
export type Operation = 'resolve' | 'get' | 'set' | 'delete' | 'call' | 'construct'

/** Upper bounds the guards enforce on what a peer sends. */
export interface ProtocolBounds {
  /** Longest accepted property path. */
  readonly maxPathLength: number
  /** Longest accepted property name or exposed name, in UTF-16 code units. */
  readonly maxKeyLength: number
}

/** A positive safe integer (request, answer and count fields). */
export function isPositiveId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** A nonzero safe integer (target fields: exports of either sign). */
export function isTargetId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value !== 0
}

/** A string of bounded length, or a non-negative safe integer (array index). */
export function isPathKey(value: unknown, bounds: ProtocolBounds): value is PathKey {
  if (typeof value === 'string') return value.length <= bounds.maxKeyLength
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** A bounded array of {@link PathKey}s. */
export function isPath(value: unknown, bounds: ProtocolBounds): value is Path {
  if (!Array.isArray(value) || value.length > bounds.maxPathLength) return false
  // A loop, not `every`: this runs for each message of every call.
  for (let i = 0; i < value.length; i++) if (!isPathKey(value[i], bounds)) return false
  return true
}

/** The export hook's data for a function or a by-reference object. */
export function isRefData(value: unknown): value is RefData {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    (value[0] === 'e' || value[0] === 'o') &&
    isTargetId(value[1])
  )
}

/** True when `value` is a well-formed {@link RpcMessage} within `bounds`. */
export function isRpcMessage(value: unknown, bounds: ProtocolBounds): value is RpcMessage {
  if (!Array.isArray(value) || value.length < 2) return false
  const [tag, id] = value as unknown[]
  if (tag === 'release') return isReleaseMessage(value)
  if (!isPositiveId(id)) return false
  switch (tag) {
    case 'resolve':
      return (
        value.length === 3 && typeof value[2] === 'string' && value[2].length <= bounds.maxKeyLength
      )
    case 'call':
    case 'new':
      return (
        value.length === 5 &&
        isTargetId(value[2]) &&
        isPath(value[3], bounds) &&
        Array.isArray(value[4])
      )
    case 'get':
    case 'delete':
      return value.length === 4 && isTargetId(value[2]) && isPath(value[3], bounds)
    case 'set':
      return value.length === 5 && isTargetId(value[2]) && isPath(value[3], bounds)
    case 'list':
    case 'pull':
      return value.length === 2
    case 'return':
    case 'throw':
      return value.length === 3
    default:
      return false
  }
}

/** True when `value` is a well-formed `release` (its id may be negative, unlike other messages). */
export function isReleaseMessage(value: unknown): value is ReleaseMessage {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    value[0] === 'release' &&
    isTargetId(value[1]) &&
    isPositiveId(value[2])
  )
}
