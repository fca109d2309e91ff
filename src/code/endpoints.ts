/**
 * Two Comlink endpoints that sit between Comlink and a MessagePort on the main thread.
 *
 * - {@link CallGuard} (exports side, wrapped by `Comlink.wrap`): times every request, and once the
 *   worker is gone settles every pending request with an error, so no promise is left hanging
 *   (Comlink alone never settles a call whose worker died). A request that outlives `timeoutMs`
 *   calls `onTimeout`, which terminates the worker and closes the guard with `ERR_TIMEOUT`. Live
 *   objects cross in neither direction: arguments other than plain values, `new` and new
 *   endpoints are refused before they leave, and an answer carrying a proxy is refused on arrival.
 * - {@link CapabilityGate} (capabilities side, given to `Comlink.expose`): the worker is untrusted,
 *   so only `GET` and `APPLY` (and `RELEASE`) of plain paths with plain-value arguments reach
 *   Comlink. Refused: `SET` (would let code write into the host's objects, e.g. `__proto__`),
 *   `CONSTRUCT`, `ENDPOINT`, the names `__proto__`, `constructor`, `prototype` and any name starting
 *   with `_`, and argument wire values other than `RAW` (a malformed handler value would make
 *   Comlink throw outside its try block, on the host's thread).
 *
 * Comlink's wire format (comlink/src/protocol.ts): requests `{ id, type, path, argumentList?, value? }`,
 * answers `{ id, type: 'RAW' | 'HANDLER', name?, value }`; an error is `HANDLER` named `throw` whose
 * value `{ isError: false, value }` Comlink rethrows as is, which is how a {@link PeerjectError}
 * instance reaches the caller unchanged.
 */
import type { Endpoint } from 'comlink'

import { PeerjectError, STANDARD_ERROR_CLASSES } from '../errors.js'
import { isTimerDelay } from '../timers.js'

type ListenerArgument = EventListenerOrEventListenerObject

function callListener(listener: ListenerArgument, data: unknown): void {
  const event = { data } as MessageEvent
  if (typeof listener === 'function') listener(event)
  else listener.handleEvent(event)
}

function requestId(message: unknown): string | undefined {
  const id = (message as { id?: unknown } | null)?.id
  return typeof id === 'string' ? id : undefined
}

/** A Comlink answer that makes the pending call reject with `error` itself. */
function rejection(id: string, error: unknown): unknown {
  return { id, type: 'HANDLER', name: 'throw', value: { isError: false, value: error } }
}

/** Options of {@link CallGuard}. */
export interface CallGuardOptions {
  /** Longest time one request may wait for its answer; `Infinity` for no limit. */
  readonly timeoutMs: number
  /** Called once when a request times out (the owner terminates the worker and closes the guard). */
  readonly onTimeout: () => void
  /** Called with `true` when the first request starts waiting and `false` when none waits. */
  readonly onBusy?: (busy: boolean) => void
}

/** The exports-side endpoint: timeouts, and every request settles. */
export class CallGuard implements Endpoint {
  readonly #port: MessagePort
  readonly #options: CallGuardOptions
  readonly #listeners = new Set<ListenerArgument>()
  /** Request id → deadline (`performance.now()` ms). Insertion order is deadline order. */
  readonly #pending = new Map<string, number>()
  readonly #detach: () => void
  /**
   * One timer for all requests, armed for the oldest deadline and re-armed lazily when it fires, so a
   * call costs no timer of its own. Unreferenced while nothing is pending (Node).
   */
  #timer: ReturnType<typeof setTimeout> | undefined
  #closed: PeerjectError | undefined

  constructor(port: MessagePort, options: CallGuardOptions) {
    this.#port = port
    this.#options = options
    this.#detach = listen(port, (data) => this.#receive(data))
  }

  /** Requests waiting for an answer. */
  get pending(): number {
    return this.#pending.size
  }

  postMessage(message: unknown, transfer?: Transferable[]): void {
    const id = requestId(message)
    const refused = this.#closed ?? outgoingRefusal(message)
    if (refused !== undefined) {
      if (id !== undefined) queueMicrotask(() => this.#deliver(rejection(id, refused)))
      return
    }
    if (id !== undefined) {
      const { timeoutMs } = this.#options
      this.#pending.set(id, performance.now() + timeoutMs)
      if (this.#pending.size === 1) {
        this.#options.onBusy?.(true)
        if (this.#timer === undefined) this.#arm(timeoutMs)
        else refTimer(this.#timer, true)
      }
    }
    try {
      this.#port.postMessage(message, transfer ?? [])
    } catch (error) {
      // Structured clone refused a value (a function or a class instance with private state
      // nested in an argument): a coded rejection of that call, not a DataCloneError.
      if (id === undefined) throw error
      this.#pending.delete(id)
      if (this.#pending.size === 0) {
        this.#options.onBusy?.(false)
        if (this.#timer !== undefined) refTimer(this.#timer, false)
      }
      const message = error instanceof Error ? error.message : String(error)
      const refused = new PeerjectError(
        'ERR_UNSERIALIZABLE',
        `an argument cannot be sent to a code object (${message}); only data crosses`,
        { cause: error },
      )
      queueMicrotask(() => this.#deliver(rejection(id, refused)))
    }
  }

  addEventListener(_type: string, listener: ListenerArgument): void {
    this.#listeners.add(listener)
  }

  removeEventListener(_type: string, listener: ListenerArgument): void {
    this.#listeners.delete(listener)
  }

  /**
   * Settles every pending request with `error`; later requests reject with `later` (default: the
   * same error). Idempotent: only the first call counts.
   */
  close(error: PeerjectError, later: PeerjectError = error): void {
    if (this.#closed !== undefined) return
    this.#closed = later
    this.#detach()
    clearTimeout(this.#timer)
    this.#timer = undefined
    const ids = [...this.#pending.keys()]
    this.#pending.clear()
    if (ids.length > 0) this.#options.onBusy?.(false)
    for (const id of ids) this.#deliver(rejection(id, error))
  }

  #arm(delay: number): void {
    if (!isTimerDelay(delay)) return
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, delay))
  }

  #expire(): void {
    this.#timer = undefined
    const oldest = this.#pending.values().next()
    if (oldest.done === true) return
    const left = oldest.value - performance.now()
    if (left <= 0) this.#options.onTimeout()
    else this.#arm(left)
  }

  #receive(data: unknown): void {
    const id = requestId(data)
    if (id === undefined || !this.#pending.delete(id)) return
    if (this.#pending.size === 0) {
      this.#options.onBusy?.(false)
      if (this.#timer !== undefined) refTimer(this.#timer, false)
    }
    const { type, name, value } = data as { type?: unknown; name?: unknown; value?: unknown }
    if (type === 'HANDLER' && name === 'throw') {
      const thrown = value as { isError?: unknown; value?: unknown } | null
      if (thrown?.isError === true) {
        this.#deliver(rejection(id, reviveError(thrown.value, 0)))
        return
      }
    }
    if (type === 'HANDLER' && name !== 'throw') {
      // A live object of the worker (a Comlink proxy on a port of its own) would bypass this guard:
      // its calls would have no timeout and outlive dispose().
      this.#deliver(
        rejection(
          id,
          new PeerjectError(
            'ERR_BAD_MESSAGE',
            'the code object answered with a live object (a proxy); only data crosses',
          ),
        ),
      )
      return
    }
    this.#deliver(data)
  }

  #deliver(data: unknown): void {
    for (const listener of this.#listeners) callListener(listener, data)
  }
}

type NodePort = MessagePort & {
  on?(event: 'message', listener: (data: unknown) => void): void
  off?(event: 'message', listener: (data: unknown) => void): void
}

/**
 * Listens for messages on `port`; returns the function that stops listening. Node's ports are event
 * emitters too, and `on('message')` skips building an event object per message.
 */
export function listen(port: MessagePort, onData: (data: unknown) => void): () => void {
  const node = port as NodePort
  if (typeof node.on === 'function' && typeof node.off === 'function') {
    node.on('message', onData)
    return () => node.off?.('message', onData)
  }
  port.onmessage = (event: MessageEvent) => onData(event.data)
  return () => {
    port.onmessage = null
  }
}

/** Node timers can stop keeping the process alive; browser timers have no such notion. */
function refTimer(timer: ReturnType<typeof setTimeout>, on: boolean): void {
  const node = timer as { ref?: () => void; unref?: () => void }
  if (on) node.ref?.()
  else node.unref?.()
}

/** Built-in error classes a thrown error is rebuilt as, by name; others are `Error`s. */
const ERROR_CLASSES: Readonly<Record<string, ErrorConstructor>> = Object.fromEntries(
  STANDARD_ERROR_CLASSES.map((Class) => [Class.name, Class]),
)

/**
 * An error a code object threw, rebuilt from what its worker sent (name, message, cause chain,
 * own data properties; src/code/worker/runtime.ts): a built-in class when its name is one, an
 * `Error` carrying the name otherwise. Fields are defined, never assigned, so a `__proto__` field
 * is an own property; no stack (the worker's is full of its bootstrap).
 */
function reviveError(sent: unknown, depth: number): Error {
  const fields = (typeof sent === 'object' && sent !== null ? sent : {}) as Record<string, unknown>
  const name = typeof fields['name'] === 'string' ? fields['name'] : 'Error'
  const message = typeof fields['message'] === 'string' ? fields['message'] : String(sent)
  const Class = Object.hasOwn(ERROR_CLASSES, name) ? ERROR_CLASSES[name]! : Error
  const error = new Class(message)
  const define = (key: string, value: unknown): void => {
    Object.defineProperty(error, key, { value, writable: true, configurable: true })
  }
  if (error.name !== name) define('name', name)
  define('stack', `${name}: ${message}`)
  for (const key of Object.keys(fields)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue
    define(key, fields[key])
  }
  if (Object.hasOwn(fields, 'cause')) {
    // An Error cause comes wrapped as { 'peerject:error': fields }; any other cause as itself.
    const cause = fields['cause']
    const wrapped =
      typeof cause === 'object' && cause !== null && Object.hasOwn(cause, 'peerject:error')
        ? (cause as Record<string, unknown>)['peerject:error']
        : undefined
    define('cause', wrapped !== undefined && depth < 8 ? reviveError(wrapped, depth + 1) : cause)
  }
  return error
}

/**
 * Why a request to the worker is refused here, or `undefined` when it may go. Functions and
 * Comlink proxies (any wire value but `RAW`) would hand the code object a live object of the host
 * — `cb.constructor` is the host's `Function` — so they never leave; `new` and new endpoints would
 * answer with a proxy of the worker that bypasses this guard.
 */
function outgoingRefusal(message: unknown): PeerjectError | undefined {
  const { type, argumentList, value } = (message ?? {}) as Record<string, unknown>
  if (type === 'CONSTRUCT' || type === 'ENDPOINT') {
    return new PeerjectError(
      'ERR_UNSERIALIZABLE',
      `${type === 'CONSTRUCT' ? '`new` on' : 'a new endpoint of'} a code object's export would return a live object of its worker; export a function that returns data instead`,
    )
  }
  const values = Array.isArray(argumentList) ? argumentList : type === 'SET' ? [value] : []
  for (const item of values) {
    if ((item as { type?: unknown } | null)?.type !== 'RAW') {
      return new PeerjectError(
        'ERR_UNSERIALIZABLE',
        'a code object cannot be given functions or proxies (Comlink.proxy would hand it a live object of this side); grant what it needs with run({ capabilities })',
      )
    }
  }
  return undefined
}

const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype'])
const MAX_PATH = 32

/** Why a capability request is refused, or `undefined` when it may reach Comlink. */
function refusal(data: Readonly<Record<string, unknown>>): string | undefined {
  const { type, path, argumentList } = data
  if (type !== 'GET' && type !== 'APPLY' && type !== 'RELEASE') {
    return `${String(type)} is not allowed on capabilities (only reading and calling)`
  }
  if (type === 'RELEASE') return undefined
  if (!Array.isArray(path) || path.length > MAX_PATH) return 'malformed capability path'
  for (const name of path) {
    if (typeof name !== 'string') return 'malformed capability path'
    if (FORBIDDEN_NAMES.has(name) || name.startsWith('_')) {
      return `the name '${name}' is not reachable on capabilities`
    }
  }
  if (type === 'APPLY') {
    if (!Array.isArray(argumentList)) return 'malformed capability call'
    for (const argument of argumentList) {
      if ((argument as { type?: unknown } | null)?.type !== 'RAW') {
        return 'capability arguments must be plain values (no functions or proxies)'
      }
    }
  }
  return undefined
}

/** The capabilities-side endpoint: screens the worker's requests before Comlink sees them. */
export class CapabilityGate implements Endpoint {
  readonly #port: MessagePort
  readonly #listeners = new Set<ListenerArgument>()

  readonly #detach: () => void

  constructor(port: MessagePort) {
    this.#port = port
    this.#detach = listen(port, (data) => this.#receive(data))
  }

  postMessage(message: unknown, transfer?: Transferable[]): void {
    this.#port.postMessage(message, transfer ?? [])
  }

  addEventListener(_type: string, listener: ListenerArgument): void {
    this.#listeners.add(listener)
  }

  removeEventListener(_type: string, listener: ListenerArgument): void {
    this.#listeners.delete(listener)
  }

  /** Stops listening. */
  close(): void {
    this.#detach()
    this.#port.close()
  }

  #receive(data: unknown): void {
    if (typeof data !== 'object' || data === null) return
    const id = requestId(data)
    if (id === undefined) return
    const reason = refusal(data as Readonly<Record<string, unknown>>)
    if (reason !== undefined) {
      const answer = { isError: true, value: { name: 'PeerjectError', message: reason } }
      this.#port.postMessage({ id, type: 'HANDLER', name: 'throw', value: answer })
      return
    }
    for (const listener of this.#listeners) callListener(listener, data)
  }
}
