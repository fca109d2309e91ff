/**
 * A benchmark environment: two {@link BenchSide}s connected over real WebRTC, driven through
 * {@link SideHandle}s so that the figures are written once for Node↔Node and Chromium↔Chromium.
 */
import type { BenchSide, SideInfo } from './side.js'

/** The methods of {@link BenchSide} (what a handle can call). */
export type SideMethods = {
  [
    K in keyof BenchSide as BenchSide[K] extends (...args: never[]) => unknown ? K : never
  ]: BenchSide[K]
}

/** Calls one side's methods, in this process (Node) or in a page (Chromium). */
export interface SideHandle {
  call<K extends keyof SideMethods>(
    method: K,
    ...args: Parameters<SideMethods[K]>
  ): Promise<Awaited<ReturnType<SideMethods[K]>>>
}

/** Two connected sides. */
export interface Env {
  /** 'Node↔Node' or 'Chromium↔Chromium'. */
  readonly name: string
  /** Sender / client side. */
  readonly a: SideHandle
  /** Receiver / server side. */
  readonly b: SideHandle
  /** What `a` negotiated toward `b`. */
  readonly info: SideInfo
  close(): Promise<void>
}

/** A handle on a side living in this process. */
export function localHandle(side: BenchSide): SideHandle {
  return {
    call(method, ...args) {
      const fn = side[method] as (...a: unknown[]) => unknown
      return Promise.resolve(fn.apply(side, args)) as never
    },
  }
}

/**
 * Connects `a` and `b` (each already joined): waits for both connections both ways, then makes
 * `b` the server of round-trip figures (exposes `bench`, echoes pings).
 */
export async function pair(a: SideHandle, b: SideHandle): Promise<SideInfo> {
  const [idsA, idsB] = await Promise.all([a.call('ids'), b.call('ids')])
  const [info] = await Promise.all([a.call('connect', ...idsB), b.call('connect', ...idsA)])
  await b.call('serve')
  return info
}
