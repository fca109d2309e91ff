/**
 * Compile-time view of stubs: `Remote<T>` (what a reference to a `T` on another peer looks like
 * here) and its inverse `Local<T>`. Types only; nothing here exists at run time.
 *
 * Rules, matching the run time (docs/rpc.md, "Types"):
 * - methods and function-valued properties are callable and return {@link RemoteResult}: a promise
 *   of the received value that can also be pipelined on (`await api.user(1).name()`);
 * - other properties are {@link RemoteProperty}: awaitable reads with deeper paths
 *   (`await remote.items[2]`, `await remote.items.length`);
 * - callback slots — optional or nullable function properties — are typed for assignment
 *   (`remote.onChange = v => …`); other properties are written with `await set(remote.x, v)`;
 * - arguments accept local callbacks where the remote side expects functions ({@link Passable});
 * - values arrive by value except functions and by-reference objects, which arrive as stubs
 *   ({@link Received}).
 */
import type { BY_REFERENCE } from '../codec/index.js'

/** Type-only brand carrying the remote type, so {@link Local} can invert {@link Remote}. */
declare const remoteType: unique symbol

type Primitive = string | number | bigint | boolean | symbol | null | undefined | void
type AnyFunction = (...args: never[]) => unknown
type AnyConstructor = abstract new (...args: never[]) => unknown
/** Built-ins that cross by value as themselves. */
type Opaque =
  | Date
  | RegExp
  | Error
  | ArrayBuffer
  | ArrayBufferView
  | Map<unknown, unknown>
  | Set<unknown>
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>

/** A value that may be returned directly or as a promise. */
export type MaybePromise<T> = T | Promise<T>

/** Objects that cross by reference: `class X extends RpcTarget` or `markByReference(x)`. */
export interface ByReference {
  readonly [BY_REFERENCE]: true
}

/** Something disposable: every stub, result and path has `[Symbol.dispose]` at run time. */
interface Disposal {
  /** Releases what this refers to on the other peer (the same as `release(...)`). */
  [Symbol.dispose](): void
}

/** What every stub has: disposal and the (type-only) remote type. */
export interface StubBase<T> extends Disposal {
  /** Type-only: the remote type. Not present at run time. */
  readonly [remoteType]: T
}

/** What a value of type `T` looks like after it crossed by value. */
export type Received<T> = unknown extends T
  ? T
  : T extends Primitive
    ? T
    : T extends { readonly [remoteType]: unknown }
      ? T
      : T extends AnyFunction | AnyConstructor | ByReference
        ? Remote<T>
        : T extends ReadableStream<unknown> | AsyncIterable<Uint8Array>
          ? ReadableStream<Uint8Array>
          : T extends Opaque
            ? T
            : { [K in keyof T]: Received<T[K]> }

/**
 * What a caller may pass where the remote side expects a `T`: local callbacks, stubs, values. (A
 * pending result is accepted at run time too, see docs/rpc.md, but what the callee receives then
 * depends on timing, so the types leave it out: cast it.) A parameter the implementation types as `Remote<F>` (what a
 * callback really is there) accepts local functions too. Stubs of functions count as `StubBase`
 * here, not as callable: two call signatures would leave TypeScript without a contextual type,
 * and `api.each((item) => …)` would need its parameters annotated.
 */
export type Passable<T> = unknown extends T
  ? T
  : T extends Primitive
    ? T
    : T extends { readonly [remoteType]: infer U }
      ? T | Passable<U>
      : T extends AnyFunction
        ? Local<T> | StubBase<T>
        : T extends ByReference
          ? T | StubBase<T>
          : T extends Opaque
            ? T
            : { [K in keyof T]: Passable<T[K]> }

/** Arguments of a remote call, as the caller may pass them. */
export type PassableArgs<A extends readonly unknown[]> = { [I in keyof A]: Passable<A[I]> }

/**
 * The members of a stub or path: one {@link RemoteProperty} per reachable key (string and number
 * keys, minus the never-reachable names). Written as a homomorphic mapping over `keyof T` with the
 * filter inline, so members stay reachable while `T` is generic (`function f<T extends { id:
 * number }>(r: Remote<T>) { return r.id }`); `-?` makes every member present (the stub always
 * is), so an optional member's type keeps its `undefined`. Callback slots are the exception: `-?`
 * would strip their `undefined` when `exactOptionalPropertyTypes` is off (the TypeScript default),
 * and `remote.onChange = undefined` would not compile, so the first mapping gives them `unknown`
 * and a second, optional one their {@link CallbackSlot} type. (Filtering them out of the first
 * mapping instead would make it depend on `T[K]`, and members of a generic `T` unreachable.)
 */
export type RemoteMembers<T> = {
  -readonly [
    K in keyof T as K extends string | number
      ? K extends 'prototype' | 'constructor' | '__proto__'
        ? never
        : K
      : never
  ]-?: IsCallbackSlot<T, K> extends true
    ? unknown
    : RemoteProperty<Pick<T, K> extends Required<Pick<T, K>> ? T[K] : T[K] | undefined>
} & {
  -readonly [K in keyof T as IsCallbackSlot<T, K> extends true ? K : never]+?: CallbackSlot<
    Pick<T, K> extends Required<Pick<T, K>> ? T[K] : T[K] | undefined
  >
}

/** An optional or nullable function member (`onChange?: (v) => void`). */
type IsCallbackSlot<T, K extends keyof T> = [NonNullable<T[K]>] extends [never]
  ? false
  : [NonNullable<T[K]>] extends [AnyFunction]
    ? Pick<T, K> extends Required<Pick<T, K>>
      ? [Extract<T[K], null | undefined>] extends [never]
        ? false
        : true
      : true
    : false

/** Members of a result or path: none below a primitive (its value is all there is). */
type MembersOf<T> = [T] extends [Primitive] ? unknown : RemoteMembers<T>

/** Call and `new` signatures of a stub or path whose target is a function or a class. */
export type RemoteCallable<T> = (T extends (...args: infer A) => infer R
  ? (...args: PassableArgs<A>) => RemoteResult<R>
  : unknown) &
  (T extends abstract new (...args: infer A) => infer I
    ? new (...args: PassableArgs<A>) => RemoteInstance<I>
    : unknown)

/** A result: a promise of the received value, pipelinable before it resolves. */
export type RemoteResult<R> = Promise<Received<Awaited<R>>> &
  MembersOf<NonNullable<Awaited<R>>> &
  RemoteCallable<NonNullable<Awaited<R>>> &
  Disposal

/** What `new stub.Klass()` gives: always a reference to the instance. */
export type RemoteInstance<I> = Promise<Remote<I>> & MembersOf<I> & Disposal

/** A callback slot: an optional or nullable function property, typed for assignment. */
type CallbackSlot<V> = Local<NonNullable<V>> | Extract<V, null | undefined>

/** A property path below a stub: awaitable read, deeper paths, callable when a function. */
export type RemoteProperty<V> = [NonNullable<V>] extends [AnyFunction]
  ? [Extract<V, null | undefined>] extends [never]
    ? RemoteResultOf<V>
    : CallbackSlot<V>
  : RemoteResultOf<V>

type RemoteResultOf<V> = Promise<Received<Awaited<V>>> &
  MembersOf<NonNullable<Awaited<V>>> &
  RemoteCallable<NonNullable<V>> &
  Disposal

/** A stub of a `T` that lives on another peer. */
export type Remote<T> = RemoteMembers<T> & RemoteCallable<T> & StubBase<T>

/**
 * The inverse of {@link Remote}: `Local<Remote<T>>` is `T`. For a function type, the local
 * implementation it describes: arguments arrive received, the result may be returned or promised.
 */
export type Local<T> = T extends { readonly [remoteType]: infer U }
  ? U
  : T extends (...args: infer A) => infer R
    ? (...args: { [I in keyof A]: Received<A[I]> }) => LocalReturn<Awaited<R>>
    : T

/** What a local implementation may return: anything for `void`, else the value or a promise. */
type LocalReturn<R> = [R] extends [void] ? unknown : MaybePromise<R>
