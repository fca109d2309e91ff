/**
 * `npm run bench`: peerject's benchmark suite. Every figure is a ratio against a baseline measured
 * in the same run on the same kind of connection (the machine is shared: absolute times are
 * noise). Prints a table and writes bench/results/latest.json and latest.md (overwritten).
 *
 * Robustness: a figure that throws or times out is reported as "failed: <reason>" and the run goes
 * on (its environment is rebuilt for the next figure); a time budget skips what would overrun it.
 * The exit code is 0 unless the harness itself crashes.
 */
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'

import { createSignalingServer } from '../signaling/index.js'
import type { SignalingServer } from '../signaling/index.js'
import { startPeerServer } from '../test/helpers/peer-server.js'
import type { Browsers } from './browser-env.js'
import { startBrowsers } from './browser-env.js'
import type * as CodeBench from './code.js'
import { runCodecBench } from './codec.js'
import type { Env } from './env.js'
import type { Figure } from './figures.js'
import {
  ISSUE,
  bulkFigure,
  callRateFigure,
  latencyFigure,
  roundTripFigure,
  smallFigure,
} from './figures.js'
import { memoryFigure } from './memory.js'
import { startNodeEnv } from './node-env.js'
import type { AdapterEnvs, BrowserPeerJsEnv } from './peerjs-figures.js'
import { adapterFigure, browserAdapterFigure, peerJsBinaryFigure } from './peerjs-figures.js'
import type { Goal, Row } from './report.js'
import { failedRow, met, textTable, writeResults } from './report.js'
import { BENCH_DIR } from './paths.js'
import { MiB, reasonOf, withTimeout } from './stats.js'

/** Whole-run budget: figures that would start after it are skipped (reported as failed). */
const BUDGET_MS = 330_000
const FIGURE_TIMEOUT_MS = 90_000
const SETUP_TIMEOUT_MS = 60_000

interface Closable {
  close(): Promise<void>
}

/** Figures sharing one environment, built lazily and rebuilt after a failed figure. */
interface Group<E extends Closable> {
  readonly title: string
  start(): Promise<E>
  readonly figures: ReadonlyArray<Figure<E>>
}

/**
 * `npm run bench -- --only <text>` runs just the figures whose row names contain one of the given
 * texts (case-insensitive; repeatable) and writes bench/results/partial.{md,json} instead of latest.
 */
const { values: args } = parseArgs({ options: { only: { type: 'string', multiple: true } } })
const only = (args.only ?? []).map((text) => text.toLowerCase())
const selected = (figure: Figure<never>): boolean =>
  only.length === 0 ||
  figure.rows.some((row) => only.some((text) => row.name.toLowerCase().includes(text)))

const started = performance.now()
const rows: Row[] = []
const log = (text: string): void => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(3)
  process.stderr.write(`[${seconds} s] ${text}\n`)
}

function declared(figure: Figure<never>, reason: string): Row[] {
  return figure.rows.map((row) => failedRow(row.issue, row.name, reason, row.goal))
}

async function closeQuietly(env: Closable | undefined): Promise<void> {
  if (env === undefined) return
  await withTimeout(env.close(), 15_000, 'closing the environment').catch((error: unknown) =>
    log(`closing failed: ${reasonOf(error)}`),
  )
}

async function runGroup<E extends Closable>(group: Group<E>): Promise<void> {
  let env: E | undefined
  let setupError: string | undefined
  for (const figure of group.figures.filter(selected)) {
    const label = figure.rows.map((row) => row.name).join(' / ')
    if (performance.now() - started > BUDGET_MS) {
      rows.push(...declared(figure, 'skipped: the run is over its time budget'))
      continue
    }
    if (setupError !== undefined) {
      rows.push(...declared(figure, setupError))
      continue
    }
    if (env === undefined) {
      // Two attempts: on a loaded machine a fresh WebRTC connection occasionally drops at once.
      for (let attempt = 1; env === undefined && attempt <= 2; attempt++) {
        log(`${group.title}: setting up${attempt > 1 ? ' (second attempt)' : ''}`)
        try {
          env = await withTimeout(group.start(), SETUP_TIMEOUT_MS, `${group.title} setup`)
        } catch (error) {
          setupError = `setup: ${reasonOf(error)}`
          log(`${group.title}: ${setupError}`)
        }
      }
      if (env === undefined) {
        rows.push(...declared(figure, setupError ?? 'setup failed'))
        continue
      }
      setupError = undefined
    }
    log(label)
    try {
      const measured = await withTimeout(figure.run(env), FIGURE_TIMEOUT_MS, 'the figure')
      rows.push(...measured)
      for (const row of measured) log(`  ${row.name}: ratio ${row.ratio?.toFixed(3) ?? '—'}`)
    } catch (error) {
      log(`  failed: ${reasonOf(error)}`)
      rows.push(...declared(figure, reasonOf(error)))
      await closeQuietly(env)
      env = undefined
    }
  }
  await closeQuietly(env)
}

const none: Closable = { close: async () => undefined }

function parseGoal(text: string): Goal | undefined {
  const match = /^(≤|≥)\s*([\d.]+)/.exec(text)
  if (match === null) return undefined
  return { op: match[1] as '≤' | '≥', value: Number(match[2]) }
}

const codecFigure: Figure<Closable> = {
  rows: [{ issue: ISSUE.values, name: 'codec encode+decode ÷ JSON (bench/codec.ts)' }],
  async run() {
    const measured = await runCodecBench()
    return measured.map((row) => {
      const goal = parseGoal(row.goal)
      return {
        issue: ISSUE.values,
        name: row.name,
        unit: 'ms',
        peerject: row.value,
        baseline: row.baseline,
        ratio: row.ratio,
        ...(goal === undefined ? {} : { goal }),
      }
    })
  },
}

const codeFigure: Figure<Closable> = {
  rows: [{ issue: ISSUE.code, name: 'code objects (bench/code.ts runCodeBench)' }],
  async run() {
    let runCodeBench: typeof CodeBench.runCodeBench
    try {
      ;({ runCodeBench } = await import('./code.js'))
    } catch (error) {
      throw new Error(`not available: bench/code.ts did not load (${reasonOf(error)})`, {
        cause: error,
      })
    }
    const measured = await runCodeBench()
    return measured.map((row) => ({
      issue: ISSUE.code,
      name: `${row.name} ÷ bare Comlink`,
      unit: 'ms',
      peerject: row.value,
      baseline: row.baseline,
      ratio: row.ratio,
      goal: { op: '≤', value: row.goal },
      note: 'bench/code.ts: Node worker_threads, medians of alternating runs.',
    }))
  },
}

function envFigures(label: string): Array<Figure<Env>> {
  return [
    bulkFigure(label, 32 * MiB, 11),
    bulkFigure(label, 32 * MiB, 7, 'transfer'),
    smallFigure(label, 20_000, 7),
    latencyFigure(label, 64 * MiB, 2),
    roundTripFigure(label, 100, 10),
    callRateFigure(label, 3000, 500, 11),
  ]
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString()
  const load = loadavg()
  let signaling: SignalingServer | undefined
  let browsers: Browsers | undefined
  try {
    signaling = await createSignalingServer({ host: '127.0.0.1', port: 0 })
  } catch (error) {
    log(`the signaling server did not start: ${reasonOf(error)}`)
  }
  const signalingUrl = async (): Promise<string> => {
    if (signaling === undefined) throw new Error('the signaling server did not start')
    return signaling.url
  }

  await runGroup({
    title: 'micro',
    start: async () => none,
    figures: [codecFigure, codeFigure],
  })
  // Memory first, on a connection of its own: later figures leave large buffers behind that would
  // hide RSS growth, and 1 GiB through one connection must not handicap it against a fresh raw one.
  await runGroup<Env>({
    title: 'Node↔Node (1 GiB stream)',
    start: async () => startNodeEnv(await signalingUrl()),
    figures: [memoryFigure(1024 * MiB, 64 * 1024)],
  })
  await runGroup<Env>({
    title: 'Node↔Node',
    start: async () => startNodeEnv(await signalingUrl()),
    figures: envFigures('Node↔Node'),
  })
  await runGroup<AdapterEnvs & Closable>({
    title: 'Node↔Node PeerJS adapter',
    async start() {
      const url = await signalingUrl()
      const server = await startPeerServer()
      const peerjs = { host: '127.0.0.1', port: server.port, path: server.path, key: server.key }
      try {
        const viaDefault = await startNodeEnv(url)
        const viaPeerJs = await startNodeEnv(url, peerjs).catch(async (error: unknown) => {
          await viaDefault.close()
          throw error
        })
        return {
          viaDefault,
          viaPeerJs,
          async close() {
            await Promise.all([viaDefault.close(), viaPeerJs.close()])
            await server.close()
          },
        }
      } catch (error) {
        await server.close()
        throw error
      }
    },
    figures: [adapterFigure('Node↔Node', 32 * MiB, 5)],
  })
  await runGroup<BrowserPeerJsEnv>({
    title: 'Chromium↔Chromium',
    async start() {
      const url = await signalingUrl()
      browsers ??= await startBrowsers()
      return browsers.openEnv(url)
    },
    figures: [
      ...envFigures('Chromium↔Chromium'),
      peerJsBinaryFigure(16 * MiB, 5, () => startPeerServer()),
      browserAdapterFigure(32 * MiB, 5, () => startPeerServer()),
    ],
  })

  const chromium = browsers?.version
  await closeQuietly(browsers)
  await closeQuietly(signaling)

  const order: string[] = Object.values(ISSUE)
  rows.sort((a, b) => order.indexOf(a.issue) - order.indexOf(b.issue))
  const durationS = (performance.now() - started) / 1000
  console.log(
    `\npeerject benchmark — ${durationS.toFixed(0)} s. peerject/baseline: medians of repetitions; ` +
      'ratio: median of per-repetition ratios where both are measured back to back.\n',
  )
  console.log(textTable(rows))
  const missed = rows.filter((row) => met(row) === false)
  const failed = rows.filter((row) => row.failed !== undefined)
  console.log(
    `\n${rows.length} figures: ${missed.length} miss their goal, ${failed.length} failed. ` +
      `Details: bench/results/${only.length === 0 ? 'latest' : 'partial'}.md`,
  )
  await writeResults(
    new URL('./results/', BENCH_DIR),
    only.length === 0 ? 'latest' : 'partial',
    rows,
    {
      startedAt,
      durationS,
      node: process.version,
      ...(chromium === undefined ? {} : { chromium }),
      loadAverage: load,
      cpus: cpus().length,
      notes: [
        'Node↔Node: both peers run in the bench process (node-datachannel), through the real ' +
          'signaling server on 127.0.0.1 port 0; memory figures therefore cover sender and receiver ' +
          'together, and per-message work of both sides (encode, decode, GC) shares one JS thread.',
        'Chromium↔Chromium: two Playwright pages (separate browser contexts) of Debian Chromium, ' +
          'peerject loaded from src/ by a Vite dev server; the pages move every measured byte, Node only ' +
          'orchestrates. Transfer times use performance.timeOrigin + performance.now() in each page.',
        'Raw baseline for throughput: a second connection made by the same mesh connector ' +
          '(signaling + simple-peer + ChannelTransport, same bufferedamountlow flow control), nothing above the transport.',
        'Raw baseline for round trips: wire.sendMessage on spare wire channel 9, echoed by the other ' +
          'side (same connection and wire as the RPC calls, bytes only).',
      ],
    },
  )
}

// A figure abandoned after its timeout may still reject or throw later (peerject reports listener
// exceptions as uncaught errors): log it, never let it end the run.
process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${reasonOf(reason)}`))
process.on('uncaughtException', (error) => log(`uncaught exception: ${reasonOf(error)}`))

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('the benchmark harness crashed:', error)
    process.exit(1)
  },
)
