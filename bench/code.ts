/**
 * Code-object benchmark (Node), against bare Comlink on the same module:
 *
 * - cold start: fetch from an in-memory peer (a fresh, empty fetcher each time) + SHA-256 verify +
 *   sandboxed worker start + first call, ÷ a bare worker_threads Worker exposing the same module
 *   with Comlink (`comlink/dist/esm/node-adapter.mjs`) + first call. Goal ≤ 1.5.
 * - the same cold start with `NodeWorkerHost({ prewarm: true })` (a booted spare worker waiting),
 *   reported separately: it is what a long-lived peer sees from its second run on. Goal ≤ 1.5.
 * - warm call: one `await mod.add(1, 2)` through peerject's guarded endpoint ÷ the same call through
 *   bare Comlink. Goal ≤ 1.1.
 *
 * Medians of alternating runs, so drift on a busy machine hits both sides alike.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

import * as Comlink from 'comlink'

import { Codec } from '../src/codec/index.js'
import { CodeService, type CodePeerSession } from '../src/code/index.js'
import { NodeWorkerHost } from '../src/code/node.js'
import type { PeerId } from '../src/ids.js'

/** One measured quantity. */
export interface CodeBenchResult {
  readonly name: string
  /** peerject's time, in milliseconds. */
  readonly value: number
  /** bare Comlink's time, in milliseconds. */
  readonly baseline: number
  /** value ÷ baseline. */
  readonly ratio: number
  /** The ratio to stay under. */
  readonly goal: number
}

/** Options of {@link runCodeBench}. */
export interface CodeBenchOptions {
  /** Cold starts per side. Default 9. */
  readonly starts?: number
  /** Calls per warm round. Default 2000. */
  readonly calls?: number
  /** Warm rounds per side. Default 5. */
  readonly rounds?: number
}

interface Adder {
  add(a: number, b: number): number
}

const MODULE = 'export function add(a, b) { return a + b }'

/** Runs the benchmark; takes a few seconds. */
export async function runCodeBench(options: CodeBenchOptions = {}): Promise<CodeBenchResult[]> {
  const starts = options.starts ?? 9
  const calls = options.calls ?? 2000
  const rounds = options.rounds ?? 5
  const host = new NodeWorkerHost()
  const prewarmed = new NodeWorkerHost({ prewarm: true })
  const publisher = new CodeService({ codec: new Codec(), host })
  const id = await publisher.publish(MODULE, { name: 'adder' })
  const bareUrl = await bareWorkerUrl(MODULE)
  const nodeEndpoint = await loadNodeEndpoint()
  const startBare = (): { worker: Worker; remote: Comlink.Remote<Adder> } => {
    const worker = new Worker(bareUrl)
    return { worker, remote: Comlink.wrap<Adder>(nodeEndpoint(worker)) }
  }
  const coldStart = async (workers: NodeWorkerHost): Promise<number> => {
    const started = performance.now()
    const fetcher = new CodeService({ codec: new Codec(), host: workers })
    const mod = await connect(publisher, fetcher).run<Adder>(id)
    await mod.add(1, 2)
    const elapsed = performance.now() - started
    mod.dispose()
    return elapsed
  }

  const cold: number[] = []
  const coldPrewarmed: number[] = []
  const coldBare: number[] = []
  await coldStart(prewarmed) // boots the first spare
  for (let i = 0; i < starts; i++) {
    cold.push(await coldStart(host))
    const started = performance.now()
    const bare = startBare()
    await bare.remote.add(1, 2)
    coldBare.push(performance.now() - started)
    await bare.worker.terminate()
    // Let the next spare finish booting, as it would between two runs of a real peer.
    await new Promise((resolve) => setTimeout(resolve, 100))
    coldPrewarmed.push(await coldStart(prewarmed))
  }
  prewarmed.close()

  const mod = await publisher.run<Adder>(id)
  const bare = startBare()
  await mod.add(0, 0)
  await bare.remote.add(0, 0)
  const warm: number[] = []
  const warmBare: number[] = []
  for (let round = 0; round < rounds; round++) {
    warm.push(await perCall(calls, (i) => mod.add(i, 1)))
    warmBare.push(await perCall(calls, (i) => bare.remote.add(i, 1)))
  }
  mod.dispose()
  await bare.worker.terminate()

  return [
    result('code cold start (fetch + verify + worker + first call)', cold, coldBare, 1.5),
    result(
      'code start with a prewarmed worker (NodeWorkerHost prewarm)',
      coldPrewarmed,
      coldBare,
      1.5,
    ),
    result('code warm call', warm, warmBare, 1.1),
  ]
}

/** Fetcher → publisher sessions over an asynchronous in-memory link; returns the fetcher's side. */
function connect(publisher: CodeService, fetcher: CodeService): CodePeerSession {
  const link: { toPublisher?: CodePeerSession; toFetcher?: CodePeerSession } = {}
  link.toFetcher = publisher.session('fetcher' as PeerId, async (bytes) => {
    queueMicrotask(() => link.toPublisher?.dispatch(bytes))
  })
  link.toPublisher = fetcher.session('publisher' as PeerId, async (bytes) => {
    queueMicrotask(() => link.toFetcher?.dispatch(bytes))
  })
  return link.toPublisher
}

/** A bare Comlink worker: the module and Comlink imported directly, exposed on parentPort. */
async function bareWorkerUrl(source: string): Promise<URL> {
  const require = createRequire(import.meta.url)
  const comlink = pathToFileURL(require.resolve('comlink/dist/esm/comlink.mjs')).href
  const adapter = pathToFileURL(require.resolve('comlink/dist/esm/node-adapter.mjs')).href
  const moduleUrl = `data:text/javascript;base64,${Buffer.from(source).toString('base64')}`
  const bootstrap = `import { parentPort } from 'node:worker_threads'
import * as Comlink from '${comlink}'
import nodeEndpoint from '${adapter}'
const mod = await import('${moduleUrl}')
Comlink.expose(mod, nodeEndpoint(parentPort))`
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`)
}

/** Comlink's Node adapter (its .mjs ships no .d.mts, hence the typed dynamic import). */
async function loadNodeEndpoint(): Promise<(worker: Worker) => Comlink.Endpoint> {
  const specifier: string = 'comlink/dist/esm/node-adapter.mjs'
  const adapter = (await import(specifier)) as { default: (worker: Worker) => Comlink.Endpoint }
  return adapter.default
}

async function perCall(count: number, call: (i: number) => Promise<number>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < count; i++) await call(i)
  return (performance.now() - started) / count
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

function result(
  name: string,
  values: readonly number[],
  baselines: readonly number[],
  goal: number,
): CodeBenchResult {
  const value = median(values)
  const baseline = median(baselines)
  return { name, value, baseline, ratio: value / baseline, goal }
}
