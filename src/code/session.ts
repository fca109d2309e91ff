/**
 * One peer's side of the code channel (issue items 3–5): serves the local store to that peer after
 * `verifyToken`, and fetches / runs code objects from it. The room gives each peer a session with a
 * `send` function and feeds every message of that peer's code channel to `dispatch`.
 *
 * Receiver-side rules: at most `maxInFlight` requests from the peer are served at once (more are
 * answered `ERR_QUOTA`); every request has a `rid` chosen by the requester and gets exactly one
 * answer; malformed input gets a coded `ERR_BAD_MESSAGE` answer when it carries a usable `rid` and is
 * dropped otherwise; nothing a peer sends can throw out of `dispatch`. The token check comes before
 * the store is read, so a refused peer learns nothing about what exists. Store failures are answered
 * `ERR_INTERNAL` without their details.
 */
import { isPeerjectError, PeerjectError, formatBytes, type ErrorCode } from '../errors.js'
import { isCodeId, shortId, sourceBytes } from './code-id.js'
import { collectCode, describeChain, trustedMetadata } from './graph.js'
import {
  cleanMetadata,
  isCodeRequest,
  isCodeResponse,
  isGetResult,
  isListResult,
  isRequestId,
  MAX_ERROR_MESSAGE,
  type CodeRequest,
  type CodeResponse,
  type GetResult,
  type ListResult,
} from './protocol.js'
import type { CodeContext } from './service.js'
import type {
  CodeId,
  CodeMetadata,
  CodeModule,
  FetchOptions,
  FetchedCode,
  RunOptions,
  RunningCode,
} from './types.js'
import { isTimerDelay } from '../timers.js'
import type { PeerId } from '../ids.js'

interface Pending {
  readonly type: CodeRequest['type']
  readonly resolve: (value: unknown) => void
  readonly reject: (error: PeerjectError) => void
  readonly timer: ReturnType<typeof setTimeout> | undefined
}

/** The code channel with one peer. Create with `CodeService.session`. */
export class CodePeerSession {
  /** The peer at the other end. */
  readonly peerId: PeerId
  readonly #context: CodeContext
  readonly #send: (bytes: Uint8Array) => Promise<void>
  readonly #pending = new Map<number, Pending>()
  #nextRid = 1
  #serving = 0
  #closed: PeerjectError | undefined

  /** @internal Use `CodeService.session`. */
  constructor(context: CodeContext, peerId: PeerId, send: (bytes: Uint8Array) => Promise<void>) {
    this.#context = context
    this.peerId = peerId
    this.#send = send
  }

  /** Handles one message received on this peer's code channel. Never throws. */
  dispatch(bytes: Uint8Array): void {
    if (this.#closed !== undefined) return
    let message: unknown
    try {
      message = this.#context.codec.decode(bytes)
    } catch {
      return // Undecodable: there is no rid to answer.
    }
    if (isCodeResponse(message)) {
      this.#settle(message)
      return
    }
    if (isCodeRequest(message)) {
      void this.#serve(message)
      return
    }
    const { type, rid } = (message ?? {}) as { type?: unknown; rid?: unknown }
    if (!isRequestId(rid)) return
    if (type === 'ok' || type === 'err') {
      this.#fail(
        rid,
        new PeerjectError('ERR_BAD_MESSAGE', `peer ${this.peerId} sent a malformed code answer`),
      )
      return
    }
    void this.#answer({
      type: 'err',
      rid,
      code: 'ERR_BAD_MESSAGE',
      message: `unknown or malformed code request (type ${JSON.stringify(String(type)).slice(0, 40)})`,
    })
  }

  /** The metadata this peer serves to `token` (its registry view). */
  async list(options: { readonly token?: unknown } = {}): Promise<CodeMetadata[]> {
    const { items } = (await this.#request({ type: 'list', token: options.token })) as ListResult
    return items.map(cleanMetadata)
  }

  /**
   * Fetches `id` and its dependencies (local store first), verifies each against its id and the
   * root's signature when trusted keys are set, and caches what came from the peer. Once the peer
   * has left, what the store holds still resolves; anything that must come from the peer rejects
   * with the reason it left.
   */
  async fetch(id: CodeId, options: FetchOptions = {}): Promise<FetchedCode> {
    // No closed check here: what is in the store already runs after the peer left; only asking
    // the peer for what is missing rejects (in #request).
    if (!isCodeId(id)) {
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `'${String(id).slice(0, 80)}' is not a code id (64 lowercase hex characters)`,
      )
    }
    const { store, limits } = this.#context
    return collectCode(id, {
      store,
      trustedKeys: options.trustedKeys ?? this.#context.trustedKeys,
      maxModules: limits.maxModules,
      remote: (moduleId, neededBy) => this.#fetchOne(moduleId, neededBy, options.token),
      onCached: (metadata) => this.#context.remember(metadata),
    })
  }

  /** Fetches `id` (see {@link CodePeerSession.fetch}) and runs it in a new worker. */
  async run<T>(id: CodeId, options: RunOptions = {}): Promise<RunningCode<T>> {
    return this.#context.run<T>(await this.fetch(id, options), options)
  }

  /**
   * Ends the session: pending requests reject with `reason` (`ERR_PEER_LEFT` when the peer left),
   * later calls reject with it too. Running code objects keep running. Idempotent.
   */
  close(
    reason: PeerjectError = new PeerjectError(
      'ERR_CLOSED',
      `the code session with peer ${this.peerId} is closed`,
    ),
  ): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    this.#context.release(this)
    for (const [rid, pending] of this.#pending) {
      clearTimeout(pending.timer)
      this.#pending.delete(rid)
      pending.reject(reason)
    }
  }

  async #fetchOne(id: CodeId, neededBy: readonly CodeId[], token: unknown): Promise<CodeModule> {
    let result: GetResult
    try {
      result = (await this.#request({ type: 'get', id, token })) as GetResult
    } catch (error) {
      if (isPeerjectError(error, 'ERR_NOT_FOUND')) {
        const chain = neededBy.length === 0 ? '' : ` (needed by ${describeChain(neededBy)})`
        throw new PeerjectError(
          'ERR_NOT_FOUND',
          `code object ${shortId(id)}${chain} not found on peer ${this.peerId}`,
          { cause: error },
        )
      }
      throw error
    }
    const size = sourceBytes(result.source)
    const max = this.#context.limits.maxSourceBytes
    if (size > max) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `code object ${shortId(id)} from peer ${this.peerId} is ${formatBytes(size)}, over maxSourceBytes (${formatBytes(max)}); raise it in the code options' limits`,
      )
    }
    return { id, source: result.source, metadata: result.metadata }
  }

  #throwIfClosed(): void {
    if (this.#closed !== undefined) throw this.#closed
  }

  #request(
    body: { type: 'list'; token: unknown } | { type: 'get'; id: CodeId; token: unknown },
  ): Promise<unknown> {
    this.#throwIfClosed()
    const rid = this.#nextRid++
    const message: CodeRequest =
      body.type === 'list'
        ? { type: 'list', rid, ...(body.token === undefined ? {} : { token: body.token }) }
        : {
            type: 'get',
            rid,
            id: body.id,
            ...(body.token === undefined ? {} : { token: body.token }),
          }
    const bytes = this.#context.codec.encode(message)
    const timeoutMs = this.#context.limits.requestTimeoutMs
    return new Promise<unknown>((resolve, reject) => {
      // A limit beyond what a timer holds (Infinity included) means no timeout.
      const timer = isTimerDelay(timeoutMs)
        ? setTimeout(() => {
            this.#fail(
              rid,
              new PeerjectError(
                'ERR_TIMEOUT',
                `peer ${this.peerId} did not answer a code ${body.type} request within ${timeoutMs} ms; raise requestTimeoutMs in the code options' limits`,
              ),
            )
          }, timeoutMs)
        : undefined
      this.#pending.set(rid, { type: body.type, resolve, reject, timer })
      this.#send(bytes).catch((error: unknown) => {
        this.#fail(
          rid,
          isPeerjectError(error)
            ? error
            : new PeerjectError('ERR_CLOSED', `cannot send to peer ${this.peerId}`, {
                cause: error,
              }),
        )
      })
    })
  }

  #fail(rid: number, error: PeerjectError): void {
    const pending = this.#pending.get(rid)
    if (pending === undefined) return
    clearTimeout(pending.timer)
    this.#pending.delete(rid)
    pending.reject(error)
  }

  #settle(response: CodeResponse): void {
    const pending = this.#pending.get(response.rid)
    if (pending === undefined) return
    if (response.type === 'err') {
      this.#fail(
        response.rid,
        new PeerjectError(response.code, `peer ${this.peerId} answered: ${clip(response.message)}`),
      )
      return
    }
    const valid =
      pending.type === 'list'
        ? isListResult(response.value, this.#context.limits.maxListEntries)
        : isGetResult(response.value)
    if (!valid) {
      this.#fail(
        response.rid,
        new PeerjectError(
          'ERR_BAD_MESSAGE',
          `peer ${this.peerId} sent a malformed answer to a code ${pending.type} request`,
        ),
      )
      return
    }
    clearTimeout(pending.timer)
    this.#pending.delete(response.rid)
    pending.resolve(response.value)
  }

  async #serve(request: CodeRequest): Promise<void> {
    const { rid } = request
    if (this.#serving >= this.#context.limits.maxInFlight) {
      await this.#answer({
        type: 'err',
        rid,
        code: 'ERR_QUOTA',
        message: `more than ${this.#context.limits.maxInFlight} code requests in flight; wait for answers before sending more`,
      })
      return
    }
    this.#serving++
    let response: CodeResponse
    try {
      const work: Promise<ListResult | GetResult> =
        request.type === 'list'
          ? this.#serveList(request.token)
          : this.#serveGet(request.id, request.token)
      response = { type: 'ok', rid, value: await this.#bounded(work, request.type) }
    } catch (error) {
      const code: ErrorCode = isPeerjectError(error) ? error.code : 'ERR_INTERNAL'
      const message = isPeerjectError(error)
        ? error.message
        : 'the serving peer could not read its code store'
      response = { type: 'err', rid, code, message }
    }
    try {
      await this.#answer(response)
    } finally {
      // Held until the answer is handed to the channel (the peer cannot have it before): answers
      // queued behind a slow or flooded channel count against maxInFlight too, so a peer asking
      // for a large object again and again cannot make this side hold unbounded encoded answers.
      this.#serving--
    }
  }

  /**
   * `work` (this side's verifyToken and store hooks), given up after `requestTimeoutMs`: the
   * requester stops waiting then anyway, and a hook that never settles must not hold one of the
   * peer's `maxInFlight` slots for ever. What the hook does later is ignored.
   */
  #bounded<T>(work: Promise<T>, type: string): Promise<T> {
    const timeoutMs = this.#context.limits.requestTimeoutMs
    if (!isTimerDelay(timeoutMs)) return work
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PeerjectError(
              'ERR_TIMEOUT',
              `the serving peer's verifyToken or code store did not answer a ${type} request within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
    })
    // The losing side settles unobserved: keep its rejection from being reported as unhandled.
    work.catch(() => undefined)
    return Promise.race([work, expired]).finally(() => clearTimeout(timer))
  }

  async #serveList(token: unknown): Promise<ListResult> {
    const all = await this.#context.listServed()
    const items: CodeMetadata[] = []
    for (const metadata of all.slice(0, this.#context.limits.maxListEntries)) {
      if (await this.#allowed(token, metadata.id)) items.push(cleanMetadata(metadata))
    }
    return { items }
  }

  async #serveGet(id: string, token: unknown): Promise<GetResult> {
    if (!isCodeId(id)) {
      throw new PeerjectError('ERR_BAD_MESSAGE', `'${id.slice(0, 80)}' is not a code id`)
    }
    if (!(await this.#allowed(token, id))) {
      throw new PeerjectError(
        'ERR_DENIED',
        `the token does not allow code object ${shortId(id)}; pass the right token in fetch() or run()`,
      )
    }
    const { store } = this.#context
    const source = await store.getObject(id)
    if (typeof source !== 'string') {
      throw new PeerjectError('ERR_NOT_FOUND', `code object ${shortId(id)} not found`)
    }
    const stored = await store.getMetadata(id)
    return { source, metadata: trustedMetadata(id, source, stored) }
  }

  async #allowed(token: unknown, id: CodeId): Promise<boolean> {
    try {
      return (await this.#context.verifyToken(token, id, this.peerId)) === true
    } catch {
      return false // A throwing verifyToken denies.
    }
  }

  async #answer(response: CodeResponse): Promise<void> {
    if (this.#closed !== undefined) return
    let bytes: Uint8Array
    try {
      bytes = this.#context.codec.encode(response)
    } catch {
      bytes = this.#context.codec.encode({
        type: 'err',
        rid: response.rid,
        code: 'ERR_INTERNAL',
        message: 'the answer could not be encoded',
      })
    }
    await this.#send(bytes).catch(() => undefined) // The peer is gone; nothing to tell it.
  }
}

function clip(text: string): string {
  return text.length > MAX_ERROR_MESSAGE ? `${text.slice(0, MAX_ERROR_MESSAGE)}…` : text
}
