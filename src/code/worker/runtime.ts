/**
 * The worker side of a code object, shared by the browser and Node hosts. It is JavaScript text, not
 * an imported module, because the worker it runs in can import nothing but `blob:`/`data:` URLs
 * (see docs/security.md). Each host's bootstrap evaluates `(RUNTIME_SOURCE)(port, host)` with:
 *
 * - `port`: the worker end of the control channel;
 * - `host.Comlink`: the vendored Comlink module (worker/comlink-source.ts);
 * - `host.moduleUrl(source)`: a URL the worker can import `source` from (blob: or data:);
 * - or `host.load(modules, entry)`: the host links and evaluates the modules itself (Node: as
 *   `vm.SourceTextModule`s) and returns the entry's namespace; `moduleUrl` is then unused.
 *
 * Protocol on `port` (one exchange per worker):
 *   main → `{ type: 'load', modules: [{ id, source }], entry, exports: MessagePort, capabilities?: MessagePort }`
 *          (`modules` lists dependencies before their dependents)
 *   worker → `{ type: 'ready', exports: string[], types: string[] }` (export names and the `typeof`
 *            of each, same order) | `{ type: 'failed', stage: 'load' | 'setup', name, message }`
 *
 * Before any code object is evaluated the runtime replaces every network global with a function that
 * throws (defence in depth and a clear message; the browser's guarantee is the CSP the worker
 * inherits, Node's module linker — see docs/security.md). With `moduleUrl`, each `'peerject:<id>'`
 * literal is rewritten to the URL of that dependency, which must come earlier in `modules`.
 *
 * Hazard: the regular expression below must match `DEPENDENCY_SPECIFIER` in code-id.ts.
 */

/** Globals that reach the network, replaced before any code object runs. */
export const NETWORK_GLOBALS = [
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
  'WebSocketStream',
  'EventSource',
  'WebTransport',
  'RTCPeerConnection',
  'webkitRTCPeerConnection',
  'RTCDataChannel',
  'BroadcastChannel',
  'SharedWorker',
  'Worker',
  'importScripts',
] as const

/** The runtime: an async function expression of `(port, host)`. */
export const RUNTIME_SOURCE = String.raw`async (port, host) => {
  const { Comlink, moduleUrl, load } = host
  const blocked = (name) =>
    function () {
      throw new TypeError(name + ' is not available inside a code object: code objects have no network access. Pass what it needs as a capability: run(id, { capabilities }).')
    }
  for (const name of ${JSON.stringify(NETWORK_GLOBALS)}) {
    if (!(name in globalThis)) continue
    Object.defineProperty(globalThis, name, { value: blocked(name), writable: false, configurable: false, enumerable: false })
  }
  const describe = (error) => {
    if (error !== null && typeof error === 'object') return { name: String(error.name), message: String(error.message) }
    return { name: 'Error', message: String(error) }
  }
  const fail = (stage, error) => port.postMessage({ type: 'failed', stage, ...describe(error) })
  // Node's ports are event emitters too; on('message') skips building an event object per message.
  const endpoint = (target) => {
    if (typeof target.on !== 'function') return target
    const listeners = new Map()
    return {
      postMessage: (message, transfer) => target.postMessage(message, transfer),
      addEventListener: (_, listener) => {
        const onData = (data) => listener({ data })
        listeners.set(listener, onData)
        target.on('message', onData)
      },
      removeEventListener: (_, listener) => {
        target.off('message', listeners.get(listener))
        listeners.delete(listener)
        if (listeners.size === 0) target.close()
      },
    }
  }
  port.onmessage = async (event) => {
    port.onmessage = null
    const { modules, entry, exports, capabilities } = event.data
    let namespace
    try {
      if (load !== undefined) namespace = await load(modules, entry)
      else {
        const urls = new Map()
        for (const { id, source } of modules) {
          const code = source.replace(/(['"])peerject:([0-9a-f]{64})\1/g, (_, quote, dependency) => {
            const url = urls.get(dependency)
            if (url === undefined) throw new Error("code object " + id.slice(0, 8) + "… imports 'peerject:" + dependency + "', which was not loaded")
            return quote + url + quote
          })
          urls.set(id, moduleUrl(code))
        }
        namespace = await import(urls.get(entry))
      }
    } catch (error) {
      fail('load', error)
      return
    }
    if (capabilities !== undefined) {
      if (typeof namespace.setup !== 'function') {
        fail('setup', new TypeError('capabilities were granted but the code object exports no setup(capabilities) function'))
        return
      }
      try {
        await namespace.setup(Comlink.wrap(capabilities))
      } catch (error) {
        fail('setup', error)
        return
      }
    }
    // Thrown errors cross with their cause chain and own data properties (Comlink alone sends
    // name, message and stack); the host's CallGuard rebuilds them (src/code/endpoints.ts).
    const plainError = (error, depth) => {
      const out = { name: String(error.name), message: String(error.message) }
      for (const key of Object.keys(error)) {
        if (key === 'cause' || key === 'name' || key === 'message' || key === 'stack') continue
        try { out[key] = structuredClone(error[key]) } catch {}
      }
      if ('cause' in error) {
        const cause = error.cause
        if (cause instanceof Error && depth < 8) out.cause = { 'peerject:error': plainError(cause, depth + 1) }
        else { try { out.cause = structuredClone(cause) } catch {} }
      }
      return out
    }
    const throwHandler = Comlink.transferHandlers.get('throw')
    Comlink.transferHandlers.set('throw', {
      canHandle: throwHandler.canHandle,
      serialize: ({ value }) => value instanceof Error
        ? [{ isError: true, value: plainError(value, 0) }, []]
        : throwHandler.serialize({ value }),
      deserialize: throwHandler.deserialize,
    })
    Comlink.expose(namespace, endpoint(exports))
    const names = Object.keys(namespace)
    port.postMessage({ type: 'ready', exports: names, types: names.map((name) => typeof namespace[name]) })
  }
}`
