/**
 * The code-objects feature of one room member (issue items 1–6): publish into a store, serve it to
 * peers through {@link CodePeerSession}s, fetch and run what peers serve. The room creates one
 * service (`joinRoom({ code: { store, verifyToken } })`), one session per peer, and routes each
 * peer's code-channel messages to that session's `dispatch`.
 */
import { PeerjectError } from '../errors.js'
import { codeIdOf, isCodeId, scanDependencies, shortId, sourceBytes } from './code-id.js'
import { collectCode, defaultName } from './graph.js'
import { createMemoryStore } from './memory-store.js'
import { cleanMetadata, isCodeMetadata, MAX_DESCRIPTION, MAX_SHORT_TEXT } from './protocol.js'
import { CodePeerSession } from './session.js'
import type * as Runner from './runner.js'
import { checkTrustedKeys, signCodeId } from './signature.js'
import type {
  CodeId,
  CodeLimits,
  CodeMetadata,
  CodeStore,
  FetchedCode,
  PublishOptions,
  RunOptions,
  RunningCode,
  TrustedKey,
  VerifyToken,
} from './types.js'
import type { WorkerHost } from './worker-host.js'
import type { PeerId } from '../ids.js'

/** Encodes and decodes code-channel messages (the room's `Codec` fits). */
export interface CodeCodec {
  encode(value: unknown): Uint8Array
  decode(bytes: Uint8Array): unknown
}

/** Options of {@link CodeService}. */
export interface CodeServiceOptions {
  /** Encodes the code channel's messages. */
  readonly codec: CodeCodec
  /** Starts workers: `BrowserWorkerHost` in browsers, `NodeWorkerHost` in Node. */
  readonly host: WorkerHost
  /** Where published and fetched code objects live. Default: a new memory store. */
  readonly store?: CodeStore
  /** Screens every request a peer makes. Default: allow everything. */
  readonly verifyToken?: VerifyToken
  /** When non-empty, fetch and run require the root object to be signed by one of these keys. */
  readonly trustedKeys?: readonly TrustedKey[]
  /** When set, publish signs each id with it (ECDSA P-256; see `generateSigningKey`). */
  readonly signingKey?: CryptoKeyPair
  /** Receiver-side limits. */
  readonly limits?: CodeLimits
}

/** Default {@link CodeLimits}. */
export const DEFAULT_CODE_LIMITS: Required<CodeLimits> = {
  requestTimeoutMs: 30_000,
  maxInFlight: 16,
  maxSourceBytes: 16 * 1024 * 1024,
  maxModules: 256,
  maxListEntries: 10_000,
}

/** @internal What sessions share with their service. */
export interface CodeContext {
  readonly codec: CodeCodec
  readonly store: CodeStore
  readonly verifyToken: VerifyToken
  readonly trustedKeys: readonly TrustedKey[]
  readonly limits: Required<CodeLimits>
  listServed(): Promise<CodeMetadata[]>
  remember(metadata: CodeMetadata): void
  run<T>(code: FetchedCode, options: RunOptions): Promise<RunningCode<T>>
  release(session: CodePeerSession): void
}

/** Publishes, serves, fetches and runs code objects. */
export class CodeService {
  readonly #options: CodeServiceOptions
  readonly #store: CodeStore
  readonly #context: CodeContext
  /** The registry view for stores without `listMetadata`: what this service published or cached. */
  readonly #known = new Map<CodeId, CodeMetadata>()
  readonly #sessions = new Set<CodePeerSession>()
  readonly #running = new Set<{ dispose(): void }>()
  #closed: PeerjectError | undefined

  constructor(options: CodeServiceOptions) {
    this.#options = options
    checkCodeOptions(options)
    this.#store = options.store ?? createMemoryStore()
    this.#context = {
      codec: options.codec,
      store: this.#store,
      verifyToken: options.verifyToken ?? (() => true),
      trustedKeys: options.trustedKeys ?? [],
      limits: resolveCodeLimits(options.limits),
      listServed: () => this.list(),
      remember: (metadata) => this.#known.set(metadata.id, metadata),
      run: (code, runOptions) => this.#run(code, runOptions),
      release: (session) => this.#sessions.delete(session),
    }
  }

  /** The store in use. */
  get store(): CodeStore {
    return this.#store
  }

  /**
   * Stores `source` under its content address and returns the id. Dependencies are the
   * `'peerject:<id>'` literals of the source; `options.dependencies`, when given, must match them.
   */
  async publish(source: string, options: PublishOptions = {}): Promise<CodeId> {
    if (this.#closed !== undefined) throw this.#closed
    if (typeof source !== 'string') {
      throw new PeerjectError('ERR_BAD_MESSAGE', 'publish() takes the source text of an ES module')
    }
    checkText('name', options.name, MAX_SHORT_TEXT)
    checkText('version', options.version, MAX_SHORT_TEXT)
    checkText('description', options.description, MAX_DESCRIPTION)
    const id = await codeIdOf(source)
    const dependencies = scanDependencies(source)
    if (options.dependencies !== undefined) checkDeclared(options.dependencies, dependencies)
    const signatures =
      this.#options.signingKey === undefined
        ? undefined
        : [await signCodeId(id, this.#options.signingKey)]
    const metadata: CodeMetadata = {
      id,
      name: options.name ?? defaultName(id),
      ...(options.version === undefined ? {} : { version: options.version }),
      ...(options.description === undefined ? {} : { description: options.description }),
      dependencies,
      size: sourceBytes(source),
      ...(signatures === undefined ? {} : { signatures }),
    }
    await this.#store.registerObject(id, source)
    await this.#store.registerMetadata(id, metadata)
    this.#known.set(id, metadata)
    return id
  }

  /** Removes a code object (source and metadata) from the store. */
  async remove(id: CodeId): Promise<void> {
    this.#known.delete(id)
    await this.#store.removeObject(id)
  }

  /** The registry view: metadata of everything the store holds (see `CodeStore.listMetadata`). */
  async list(): Promise<CodeMetadata[]> {
    const listed = this.#store.listMetadata
      ? await this.#store.listMetadata()
      : [...this.#known.values()]
    return listed.filter((m): m is CodeMetadata => isCodeMetadata(m)).map(cleanMetadata)
  }

  /** Collects `id` and its dependencies from the local store only, verified. */
  async load(
    id: CodeId,
    options: { readonly trustedKeys?: readonly TrustedKey[] } = {},
  ): Promise<FetchedCode> {
    if (!isCodeId(id)) {
      throw new PeerjectError('ERR_BAD_MESSAGE', `'${String(id).slice(0, 80)}' is not a code id`)
    }
    return collectCode(id, {
      store: this.#store,
      trustedKeys: options.trustedKeys ?? this.#context.trustedKeys,
      maxModules: this.#context.limits.maxModules,
    })
  }

  /** Runs a code object that is already in the local store (published or fetched before). */
  async run<T>(id: CodeId, options: RunOptions = {}): Promise<RunningCode<T>> {
    return this.#run<T>(await this.load(id, options), options)
  }

  /**
   * The code channel with peer `peerId`: `send` delivers bytes to that peer's code channel; feed
   * what arrives from it to the session's `dispatch`.
   */
  session(peerId: PeerId, send: (bytes: Uint8Array) => Promise<void>): CodePeerSession {
    if (this.#closed !== undefined) throw this.#closed
    const session = new CodePeerSession(this.#context, peerId, send)
    this.#sessions.add(session)
    return session
  }

  /** Closes every session with `reason` and disposes every running code object. Idempotent. */
  close(
    reason: PeerjectError = new PeerjectError('ERR_CLOSED', 'the code service is closed'),
  ): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    for (const session of [...this.#sessions]) session.close(reason)
    for (const entry of [...this.#running]) entry.dispose()
  }

  async #run<T>(code: FetchedCode, options: RunOptions): Promise<RunningCode<T>> {
    if (this.#closed !== undefined) throw this.#closed
    // Registered from the start: closing the service (leaving the room) while the module is still
    // loading stops its worker and rejects run() with the reason, instead of leaving both behind.
    const entry = { dispose: (): void => undefined }
    this.#running.add(entry)
    try {
      // The runner (and Comlink) load on the first run, in a chunk of their own (see loadRunner).
      const { runCode } = await loadRunner()
      const running = await runCode<T>(this.#options.host, code, options, {
        onStart: (stop) => {
          entry.dispose = () => stop(this.#closed ?? new PeerjectError('ERR_CLOSED', 'closed'))
          if (this.#closed !== undefined) entry.dispose() // closed while the worker started
        },
        onStop: () => this.#running.delete(entry),
      })
      entry.dispose = () => running.dispose()
      if (this.#closed !== undefined) {
        running.dispose()
        throw this.#closed
      }
      return running
    } catch (error) {
      this.#running.delete(entry)
      throw error
    }
  }
}

/**
 * Checks the code options a room is joined with (`joinRoom({ code })`), before anything starts:
 * a store missing a function, a verifyToken that is not one, trusted keys that are not an array
 * of public keys are TypeErrors; an unknown limit or one out of range is a RangeError.
 */
export function checkCodeOptions(
  options: Pick<CodeServiceOptions, 'store' | 'verifyToken' | 'trustedKeys' | 'limits'>,
): void {
  if (options.store !== undefined) checkStore(options.store)
  if (options.verifyToken !== undefined && typeof options.verifyToken !== 'function') {
    throw new TypeError(
      `code.verifyToken must be a function (token, id, peer) => boolean, got ${typeof options.verifyToken}`,
    )
  }
  if (options.trustedKeys !== undefined) checkTrustedKeys(options.trustedKeys, 'code.trustedKeys')
  resolveCodeLimits(options.limits)
}

/** The store functions {@link CodeStore} requires (`listMetadata` is optional). */
const STORE_FUNCTIONS = [
  'getObject',
  'getMetadata',
  'registerObject',
  'registerMetadata',
  'removeObject',
] as const

/** Throws a TypeError naming what `store` lacks. */
function checkStore(store: CodeStore): void {
  const missing = STORE_FUNCTIONS.filter(
    (name) => typeof (store as unknown as Record<string, unknown> | null)?.[name] !== 'function',
  )
  const list = (store as { listMetadata?: unknown } | null)?.listMetadata
  if (list !== undefined && typeof list !== 'function') missing.push('listMetadata' as never)
  if (missing.length > 0) {
    throw new TypeError(
      `code.store must have the functions ${STORE_FUNCTIONS.join(', ')} (and optionally listMetadata); missing or not a function: ${missing.join(', ')}`,
    )
  }
}

/**
 * Fills in the default code limits and checks the given ones: an unknown name or a value out of
 * range is a RangeError naming it, as for the room's own limits.
 */
export function resolveCodeLimits(limits: CodeLimits | undefined): Required<CodeLimits> {
  if (limits === undefined) return { ...DEFAULT_CODE_LIMITS }
  if (typeof limits !== 'object' || limits === null) {
    throw new RangeError('code.limits must be an object, e.g. { maxSourceBytes: 1e6 }')
  }
  const resolved: Record<string, number> = { ...DEFAULT_CODE_LIMITS }
  for (const [key, value] of Object.entries(limits)) {
    if (value === undefined) continue
    if (!Object.hasOwn(DEFAULT_CODE_LIMITS, key)) {
      throw new RangeError(
        `code.limits: unknown limit "${key}"; the limits are ${Object.keys(DEFAULT_CODE_LIMITS).join(', ')}`,
      )
    }
    const valid =
      key === 'requestTimeoutMs'
        ? typeof value === 'number' && value > 0 // Infinity: no timeout
        : Number.isSafeInteger(value) && (value as number) > 0
    if (!valid) {
      throw new RangeError(
        `code.limits.${key} must be a positive ${key === 'requestTimeoutMs' ? 'number' : 'integer'}, got ${String(value)}`,
      )
    }
    resolved[key] = value as number
  }
  return resolved as Required<CodeLimits>
}

function checkText(field: string, value: unknown, max: number): void {
  if (value === undefined) return
  if (typeof value !== 'string' || value.length > max) {
    throw new PeerjectError(
      'ERR_BAD_MESSAGE',
      `publish(): ${field} must be a string of at most ${max} characters`,
    )
  }
}

type RunnerModule = typeof Runner

let runner: Promise<RunnerModule> | undefined

/**
 * `./runner.js` with Comlink, imported when a code object first runs: apps that only exchange
 * values and references, or only serve code to others, never download it.
 */
function loadRunner(): Promise<RunnerModule> {
  runner ??= import('./runner.js')
  return runner
}

function checkDeclared(declared: readonly CodeId[], imported: readonly CodeId[]): void {
  const missing = imported.filter((id) => !declared.includes(id))
  const extra = declared.filter((id) => !imported.includes(id))
  if (missing.length === 0 && extra.length === 0) return
  const parts = [
    missing.length > 0
      ? `imported but not declared: ${missing.map((id) => shortId(id)).join(', ')}`
      : '',
    extra.length > 0
      ? `declared but never imported as 'peerject:<id>': ${extra.map((id) => shortId(String(id))).join(', ')}`
      : '',
  ].filter((part) => part !== '')
  throw new PeerjectError(
    'ERR_BAD_MESSAGE',
    `publish(): dependencies must list exactly the ids the source imports (${parts.join('; ')}); or leave dependencies out to derive them`,
  )
}
