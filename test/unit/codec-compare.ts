/**
 * Structural comparison for codec round trips (browser-safe, no test-runner imports): compares
 * prototypes, -0 and NaN (Object.is), exact typed-array classes and bytes, Map/Set order, Error
 * name/message/cause/errors, own enumerable keys in order, and identity — an object seen twice
 * in the expected value must be one object seen twice in the actual value.
 */

function fail(path: string, message: string): never {
  throw new Error(`${path}: ${message}`)
}

function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value !== 'object' || value === null)
    return Object.is(value, -0) ? '-0' : String(value)
  return Object.prototype.toString.call(value)
}

/** Throws unless `actual` is structurally the same as `expected` (see the file comment). */
export function assertSameValue(actual: unknown, expected: unknown, path = 'value'): void {
  compare(actual, expected, path, new Map())
}

function compare(
  actual: unknown,
  expected: unknown,
  path: string,
  pairs: Map<object, unknown>,
): void {
  if (typeof expected !== 'object' || expected === null) {
    if (!Object.is(actual, expected))
      fail(path, `expected ${describeValue(expected)}, got ${describeValue(actual)}`)
    return
  }
  if (typeof actual !== 'object' || actual === null)
    fail(path, `expected an object, got ${describeValue(actual)}`)
  if (pairs.has(expected)) {
    if (pairs.get(expected) !== actual) fail(path, 'shared reference arrived as a different object')
    return
  }
  pairs.set(expected, actual)
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) {
    fail(
      path,
      `prototype differs: expected ${describeValue(expected)}, got ${describeValue(actual)}`,
    )
  }
  if (Array.isArray(expected)) {
    const list = actual as unknown[]
    if (list.length !== expected.length) fail(path, `length ${list.length} ≠ ${expected.length}`)
    for (let i = 0; i < expected.length; i++) compare(list[i], expected[i], `${path}[${i}]`, pairs)
    return
  }
  if (expected instanceof Map) {
    const entries = [...(actual as Map<unknown, unknown>)]
    const wanted = [...expected]
    if (entries.length !== wanted.length)
      fail(path, `Map size ${entries.length} ≠ ${wanted.length}`)
    wanted.forEach(([key, value], i) => {
      compare(entries[i]?.[0], key, `${path}<key ${i}>`, pairs)
      compare(entries[i]?.[1], value, `${path}<value ${i}>`, pairs)
    })
    return
  }
  if (expected instanceof Set) {
    const members = [...(actual as Set<unknown>)]
    const wanted = [...expected]
    if (members.length !== wanted.length)
      fail(path, `Set size ${members.length} ≠ ${wanted.length}`)
    wanted.forEach((member, i) => compare(members[i], member, `${path}<member ${i}>`, pairs))
    return
  }
  if (expected instanceof Date) {
    if (!Object.is((actual as Date).getTime(), expected.getTime())) fail(path, 'Date differs')
    return
  }
  if (expected instanceof RegExp) {
    const regexp = actual as RegExp
    if (regexp.source !== expected.source || regexp.flags !== expected.flags)
      fail(path, 'RegExp differs')
    return
  }
  if (expected instanceof ArrayBuffer || ArrayBuffer.isView(expected)) {
    compareBytes(actual as ArrayBuffer | ArrayBufferView, expected, path)
    return
  }
  if (expected instanceof Error) {
    const error = actual as Error
    if (!(error instanceof Error)) fail(path, 'expected an Error')
    if (error.name !== expected.name) fail(path, `name ${error.name} ≠ ${expected.name}`)
    if (error.message !== expected.message)
      fail(path, `message ${error.message} ≠ ${expected.message}`)
    if (Object.hasOwn(error, 'cause') !== Object.hasOwn(expected, 'cause'))
      fail(path, 'cause presence differs')
    if (Object.hasOwn(expected, 'cause'))
      compare(error.cause, expected.cause, `${path}.cause`, pairs)
    if (expected instanceof AggregateError) {
      compare((error as AggregateError).errors, expected.errors, `${path}.errors`, pairs)
    }
  }
  const keys = Object.keys(actual)
  const wantedKeys = Object.keys(expected)
  if (keys.join('\u0000') !== wantedKeys.join('\u0000')) {
    fail(path, `keys [${keys.join(', ')}] ≠ [${wantedKeys.join(', ')}]`)
  }
  for (const key of wantedKeys) {
    compare(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${path}.${key}`,
      pairs,
    )
  }
}

function compareBytes(
  actual: ArrayBuffer | ArrayBufferView,
  expected: ArrayBuffer | ArrayBufferView,
  path: string,
): void {
  const bytes = (value: ArrayBuffer | ArrayBufferView): Uint8Array =>
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  const a = bytes(actual)
  const b = bytes(expected)
  if (a.length !== b.length) fail(path, `byteLength ${a.length} ≠ ${b.length}`)
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) fail(path, `byte ${i} differs`)
}
