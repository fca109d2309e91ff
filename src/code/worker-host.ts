/**
 * Where code objects run. A {@link WorkerHost} starts one isolated worker per running code object
 * and hands back the main-thread end of a control channel; the worker side is worker/runtime.ts.
 * Implementations: browser-host.ts (a module Worker inside a sandboxed iframe) and node-host.ts
 * (a worker_threads Worker; Node-only). The isolation each provides is in docs/security.md.
 */
import type { PeerjectError } from '../errors.js'

/** What a host needs to start a worker. */
export interface WorkerStartOptions {
  /** Heap cap in MiB where the host supports one (Node); ignored elsewhere. */
  readonly memoryMb?: number
  /** A debugging name for the worker. */
  readonly name?: string
}

/** One started worker. */
export interface WorkerHandle {
  /** Main-thread end of the control channel; the runtime listens on the other end. */
  readonly port: MessagePort
  /**
   * Settles (never rejects) when the worker stops on its own: it failed to boot, crashed, or ran out
   * of memory. The error says why. Not settled by {@link WorkerHandle.terminate}.
   */
  readonly stopped: Promise<PeerjectError>
  /** Stops the worker at once, even inside an endless loop. Idempotent. */
  terminate(): void
  /** Node: whether the worker keeps the process alive (only while calls are pending). */
  keepAlive?(active: boolean): void
}

/** Starts isolated workers for code objects. */
export interface WorkerHost {
  /** Starts a worker; rejects `ERR_CODE_LOAD` when the environment cannot start one. */
  start(options: WorkerStartOptions): Promise<WorkerHandle>
}
