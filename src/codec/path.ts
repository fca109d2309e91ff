/**
 * Paths that name where a value sits inside what was sent, for error messages and the export
 * hook: `value`, `.key` for identifier keys, `["weird key"]` otherwise, `[3]` for indices,
 * `<map key #0>` / `<map value of "theme">` / `<map value #2>` for Map entries (a primitive key is
 * shown, an object key by its entry index), `<set member #1>` for Set members, `.cause`,
 * `.errors[0]` and `.field` inside errors and class instances, `<exported data>` inside what an
 * export hook returned.
 *
 * The encoder records one segment per depth (`segments[depth] = key`) and formats a path only
 * when it needs one, so the common case costs one array store per value.
 */

/** A path segment that is not a plain property key or index. */
export class EntrySegment {
  constructor(
    /** Which part of an entry. */
    readonly kind: 'map-key' | 'map-value' | 'set-member' | 'exported',
    /** Entry index in iteration order. */
    readonly index: number,
    /** The entry's key (map values only). */
    readonly key?: unknown,
  ) {}
}

/** One segment: a property key, an array index, or an entry. */
export type PathSegment = string | number | EntrySegment

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/**
 * How a layer that wraps values in messages of its own names what its user sent (the rpc layer:
 * `[4][0]` of a call message is `arguments[0] of add()`). Given the segments, returns the root's
 * name, how many leading segments it stands for, and text to put after the rest of the path; or
 * undefined for the default root `value`.
 */
export type PathNamer = (
  segments: readonly PathSegment[],
  depth: number,
) => { readonly root: string; readonly consumed: number; readonly suffix: string } | undefined

/** Formats `segments[1..depth]` after the root name `value` (or what `namer` names it). */
export function formatPath(
  segments: readonly PathSegment[],
  depth: number,
  namer?: PathNamer,
): string {
  const named = namer?.(segments, depth)
  let path = named?.root ?? 'value'
  for (let i = 1 + (named?.consumed ?? 0); i <= depth; i++) {
    const segment = segments[i]
    if (segment === undefined) continue
    path += formatSegment(segment)
  }
  return named === undefined ? path : path + named.suffix
}

function formatSegment(segment: PathSegment): string {
  if (typeof segment === 'number') return `[${segment}]`
  if (typeof segment === 'string') {
    return IDENTIFIER.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`
  }
  switch (segment.kind) {
    case 'map-key':
      return `<map key #${segment.index}>`
    case 'map-value':
      return `<map value ${describeKey(segment.key, segment.index)}>`
    case 'set-member':
      return `<set member #${segment.index}>`
    case 'exported':
      return '<exported data>'
  }
}

function describeKey(key: unknown, index: number): string {
  switch (typeof key) {
    case 'string':
      return `of ${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)}`
    case 'number':
    case 'boolean':
    case 'undefined':
      return `of ${String(key)}`
    case 'bigint':
      return `of ${key}n`
    default:
      return key === null ? 'of null' : `#${index}`
  }
}
