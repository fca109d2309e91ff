/**
 * The browser {@link WorkerHost}: each code object runs in a module Worker created by a hidden,
 * sandboxed iframe (docs/security.md, "Browser"). No Node imports anywhere in this file's graph.
 *
 * Why this holds:
 * - the iframe is `sandbox="allow-scripts"` without `allow-same-origin`: its origin is opaque, so
 *   the worker it creates (from a `data:` URL) has an opaque origin too — no cookies, no IndexedDB,
 *   no Cache Storage, no BroadcastChannel peers, nothing of the app's origin;
 * - the iframe's document carries a CSP (`default-src 'none'`) in a `<meta>`; a worker from a
 *   `data:` URL inherits its creator's policy container, so fetch, XMLHttpRequest, WebSocket,
 *   EventSource, WebTransport, fonts and `import()` of any http(s) URL are refused by the browser
 *   before a request leaves; `eval` is refused too (no `'unsafe-eval'`). Code inside cannot change
 *   the policy it was created with;
 * - terminating = removing the iframe: a document's dedicated workers die with it, even in an
 *   endless loop.
 */
import { PeerjectError } from '../errors.js'
import type { WorkerHandle, WorkerHost, WorkerStartOptions } from './worker-host.js'

/** Runs in the sandboxed iframe: creates the worker and reports its load failures. */
const FRAME_SCRIPT = `let started = false
addEventListener('message', (event) => {
  const data = event.data
  if (started || event.source !== parent || data === null || typeof data !== 'object' || data.type !== 'peerject:start') return
  started = true
  const [workerPort, statusPort] = event.ports
  const fail = (message) => statusPort.postMessage({ type: 'error', message: String(message || '') })
  let worker
  try {
    worker = new Worker(data.url, { type: 'module', name: String(data.name) })
  } catch (error) {
    fail(error && error.message)
    return
  }
  worker.addEventListener('error', (event) => fail(event.message))
  worker.postMessage(null, [workerPort])
})
parent.postMessage('peerject:ready', '*')`

/** How long a loaded sandbox iframe may take to say ready before its script is taken as blocked. */
const LOADED_GRACE_MS = 1000

/** Options of {@link BrowserWorkerHost}. */
export interface BrowserWorkerHostOptions {
  /** The document that hosts the sandbox iframes; default `globalThis.document`. */
  readonly document?: Document
  /** How long the sandbox iframe may take to start. Default 10 000 ms. */
  readonly startTimeoutMs?: number
}

/** The browser host: one sandboxed iframe and module Worker per running code object. */
export class BrowserWorkerHost implements WorkerHost {
  readonly #document: Document | undefined
  readonly #startTimeoutMs: number
  #srcdoc: Promise<string> | undefined

  /**
   * What a page that sets its own Content-Security-Policy must allow for code objects to run (the
   * sandbox document inherits the page's policy): its inline script by hash, `data:` and `blob:`
   * scripts, and `data:` workers. Merge these sources into the page's directives.
   */
  static async requiredCsp(): Promise<{ readonly scriptSrc: string; readonly workerSrc: string }> {
    return { scriptSrc: `'${await scriptHash()}' data: blob:`, workerSrc: 'data:' }
  }

  constructor(options: BrowserWorkerHostOptions = {}) {
    this.#document = options.document
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000
  }

  /** Starts a sandboxed worker. */
  async start(options: WorkerStartOptions): Promise<WorkerHandle> {
    const doc = this.#document ?? (globalThis as { document?: Document }).document
    const view = doc?.defaultView
    if (doc === undefined || view === null || view === undefined) {
      throw new PeerjectError(
        'ERR_CODE_LOAD',
        'running a code object in a browser needs a page (a document): call run() from the main thread',
      )
    }
    this.#srcdoc ??= sandboxDocument()
    const iframe = doc.createElement('iframe')
    iframe.setAttribute('sandbox', 'allow-scripts')
    iframe.setAttribute('aria-hidden', 'true')
    iframe.style.display = 'none'
    iframe.srcdoc = await this.#srcdoc
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string): void => {
        cleanup()
        iframe.remove()
        reject(new PeerjectError('ERR_CODE_LOAD', message))
      }
      const timer = setTimeout(
        () =>
          fail(
            `the code-object sandbox did not start within ${this.#startTimeoutMs} ms; if the page sets a Content-Security-Policy, it must allow what codeObjectCsp() returns (docs/security.md, "Isolation in the browser")`,
          ),
        this.#startTimeoutMs,
      )
      // The sandbox's script says ready while its document is parsed, before the iframe's load
      // event. Loaded without a word (after a grace period for a message still in the queue): the
      // script did not run, which is what a page policy that does not allow it does. The parent
      // cannot see the violation itself: it is reported inside the sandboxed document.
      let graceTimer: ReturnType<typeof setTimeout> | undefined
      const onLoad = (): void => {
        graceTimer = setTimeout(
          () =>
            fail(
              `the code-object sandbox's script did not run: the page's Content-Security-Policy must allow what codeObjectCsp() returns (docs/security.md, "Isolation in the browser")`,
            ),
          LOADED_GRACE_MS,
        )
      }
      const onMessage = (event: MessageEvent): void => {
        if (event.source === iframe.contentWindow && event.data === 'peerject:ready') {
          cleanup()
          resolve()
        }
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        clearTimeout(graceTimer)
        view.removeEventListener('message', onMessage)
        iframe.removeEventListener('load', onLoad)
      }
      view.addEventListener('message', onMessage)
      iframe.addEventListener('load', onLoad, { once: true })
      ;(doc.body ?? doc.documentElement).append(iframe)
    })
    const frame = iframe.contentWindow
    if (frame === null) {
      iframe.remove()
      throw new PeerjectError('ERR_CODE_LOAD', 'the code-object sandbox iframe was removed')
    }
    const control = new MessageChannel()
    const status = new MessageChannel()
    let terminated = false
    const stopped = new Promise<PeerjectError>((resolve) => {
      status.port1.onmessage = (event: MessageEvent<{ message?: unknown }>) => {
        if (terminated) return
        const detail = typeof event.data.message === 'string' ? event.data.message : ''
        resolve(
          new PeerjectError(
            'ERR_CODE_LOAD',
            `the code object's worker failed: ${detail || 'it could not start (does a Content-Security-Policy of the page forbid data: workers?)'}`,
          ),
        )
      }
    })
    const url = await workerUrl()
    frame.postMessage({ type: 'peerject:start', url, name: options.name ?? 'peerject-code' }, '*', [
      control.port2,
      status.port2,
    ])
    return {
      port: control.port1,
      stopped,
      terminate: () => {
        if (terminated) return
        terminated = true
        iframe.remove()
        control.port1.close()
        status.port1.close()
      },
    }
  }
}

/**
 * The sandbox iframe's document. Its CSP allows exactly our inline script (by hash), `data:` for the
 * worker and `blob:`/`data:` module imports inside it, and nothing else.
 */
async function sandboxDocument(): Promise<string> {
  const csp = `default-src 'none'; script-src '${await scriptHash()}' data: blob:; worker-src data:`
  return `<!doctype html><meta http-equiv="Content-Security-Policy" content="${csp}"><script>${FRAME_SCRIPT}</script>`
}

let bootstrapUrl: Promise<string> | undefined

/**
 * The worker's entry module as a `data:` URL. Its sources (Comlink and the runtime, ~9 KB
 * minified) load on the first run, in a chunk of their own: apps that never run a code object do
 * not download them.
 */
function workerUrl(): Promise<string> {
  bootstrapUrl ??= import('./worker/bootstrap.js').then(
    ({ WORKER_BOOTSTRAP }) => `data:text/javascript,${encodeURIComponent(WORKER_BOOTSTRAP)}`,
  )
  return bootstrapUrl
}

/** `sha256-…` of the iframe's inline script, as CSP writes it. */
async function scriptHash(): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest(
    'SHA-256',
    new TextEncoder().encode(FRAME_SCRIPT),
  )
  let binary = ''
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte)
  return `sha256-${btoa(binary)}`
}
