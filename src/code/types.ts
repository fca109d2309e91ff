/**
 * The public types of code objects: metadata, the store hooks (opject's interface), the options of
 * publish / fetch / run, and what run returns. See docs/security.md for the trust model.
 */
import type { Remote } from 'comlink'
import type { PeerId } from '../ids.js'

/** A value or a promise of it: every store hook and `verifyToken` may be sync or async. */
export type MaybePromise<T> = T | Promise<T>

/** A code object's id: the lowercase hex SHA-256 of its source's UTF-8 bytes (64 characters). */
export type CodeId = string

/**
 * An ECDSA P-256 signature of a code object's id (see signature.ts for the exact signed bytes).
 * Both fields are base64url without padding.
 */
export interface CodeSignature {
  /** The signer's public key: the raw uncompressed P-256 point (65 bytes). */
  readonly publicKey: string
  /** The IEEE P1363 signature `r ‖ s` (64 bytes), as WebCrypto produces it. */
  readonly signature: string
}

/** What is kept beside a code object's source (the registry view lists these). */
export interface CodeMetadata {
  /** The content address of the source. */
  readonly id: CodeId
  /** A human-readable name (not unique, not authenticated: only `id` is). */
  readonly name: string
  readonly version?: string
  readonly description?: string
  /**
   * The ids this object imports (`import x from 'peerject:<id>'`), derived from the source. A fetcher
   * follows the source, never this list, so a serving peer cannot add or remove dependencies.
   */
  readonly dependencies: readonly CodeId[]
  /** Source size in bytes (UTF-8). */
  readonly size: number
  /** Publisher signatures of `id`; absent when the publisher had no signing key. */
  readonly signatures?: readonly CodeSignature[]
}

/**
 * Storage hooks (opject's interface). Each may be sync or async; a missing entry is `undefined` or
 * `null`. `removeObject` removes the source and its metadata. `listMetadata` is optional: without it
 * the registry view lists only what this service published or fetched since it started.
 */
export interface CodeStore {
  getObject(id: CodeId): MaybePromise<string | undefined | null>
  getMetadata(id: CodeId): MaybePromise<CodeMetadata | undefined | null>
  registerObject(id: CodeId, source: string): MaybePromise<void>
  registerMetadata(id: CodeId, metadata: CodeMetadata): MaybePromise<void>
  removeObject(id: CodeId): MaybePromise<void>
  listMetadata?(): MaybePromise<readonly CodeMetadata[]>
}

/**
 * Decides whether `peer` may fetch code object `id` with `token` (sync or async). Also called once
 * per object for a `list` request, which returns only what the token may fetch. A throw denies.
 */
export type VerifyToken = (token: unknown, id: CodeId, peer: PeerId) => MaybePromise<boolean>

/** Options of `publish(source, options)`. */
export interface PublishOptions {
  /** Defaults to `code-` and the first 8 characters of the id. */
  readonly name?: string
  readonly version?: string
  readonly description?: string
  /**
   * Optional check: when given, it must list exactly the ids the source imports as
   * `'peerject:<id>'`. When omitted, dependencies are derived from the source.
   */
  readonly dependencies?: readonly CodeId[]
}

/** A public key a fetcher trusts: a WebCrypto ECDSA P-256 public key or its base64url raw form. */
export type TrustedKey = CryptoKey | string

/** Options of `fetch(id, options)`. */
export interface FetchOptions {
  /** Sent with every request (the object and each dependency); checked by the serving peer. */
  readonly token?: unknown
  /** Overrides the service's `trustedKeys` for this fetch (an empty array accepts unsigned code). */
  readonly trustedKeys?: readonly TrustedKey[]
}

/** One verified module of a fetched graph. */
export interface CodeModule {
  readonly id: CodeId
  readonly source: string
  readonly metadata: CodeMetadata
}

/** A verified code object with its whole dependency graph. */
export interface FetchedCode {
  readonly id: CodeId
  readonly metadata: CodeMetadata
  /** Every module of the graph, dependencies before their dependents; the object itself is last. */
  readonly modules: readonly CodeModule[]
}

/** Options of `run(id, options)`. */
export interface RunOptions extends FetchOptions {
  /**
   * Objects and functions granted to the code object: its exported `setup(capabilities)` receives
   * them as a Comlink `Remote` (so calls are async). The only way out of the sandbox.
   */
  readonly capabilities?: object
  /**
   * Longest time loading, `setup` and each call may take; past it the worker is terminated, pending
   * calls reject `ERR_TIMEOUT` and later ones `ERR_CLOSED`. Default 30 000; `Infinity` disables.
   */
  readonly timeoutMs?: number
  /** Node: heap cap of the worker (resourceLimits) in MiB; default 256. Browsers have no cap. */
  readonly memoryMb?: number
}

/**
 * A running code object: a Comlink `Remote` of its exports, plus `dispose()` and `exportTypes`
 * (an export of either name is shadowed).
 */
export type RunningCode<T> = Remote<T> & {
  /** Terminates the worker; pending and later calls reject `ERR_CLOSED`. Idempotent. */
  dispose(): void
  /**
   * The module's export names with the `typeof` of each at load time, e.g. `{ default: 'function',
   * version: 'string' }` (as the worker reported them: a registry UI can pick what to call).
   */
  readonly exportTypes: Readonly<Record<string, string>>
}

/** Receiver-side limits of the code service. */
export interface CodeLimits {
  /**
   * A request to a peer rejects `ERR_TIMEOUT` after this long; serving a peer's request (this
   * side's `verifyToken` and store hooks) is given up after it too, freeing its `maxInFlight`
   * slot. Default 30 000 ms; above 2³¹ − 1 ms (Infinity included) means no timeout.
   */
  readonly requestTimeoutMs?: number
  /** Requests from one peer served at once; more are answered `ERR_QUOTA`. Default 16. */
  readonly maxInFlight?: number
  /** Largest source accepted from a peer, in bytes. Default 16 MiB. */
  readonly maxSourceBytes?: number
  /** Most modules in one dependency graph. Default 256. */
  readonly maxModules?: number
  /** Most entries a `list` answer may hold. Default 10 000. */
  readonly maxListEntries?: number
}
