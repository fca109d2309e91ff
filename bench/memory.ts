/**
 * Peak memory while streaming 1 GiB Node↔Node as a byte stream. Both peers run in this process,
 * so the samples cover sender and receiver together. The goal is on the absolute figure (baseline
 * = 0: memory measured just before the transfer is subtracted).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

import type { Figure } from './figures.js'
import { ISSUE } from './figures.js'
import type { Goal } from './report.js'
import { MiB, mibPerSecond } from './stats.js'

interface Sample {
  readonly js: number
  readonly rss: number
}

function sample(): Sample {
  const usage = process.memoryUsage()
  return { js: usage.heapUsed + usage.arrayBuffers, rss: usage.rss }
}

/** A full GC when the runtime lets us have one (makes the "before" figure a floor). */
function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as (() => void) | undefined
    gc?.()
  } catch {
    // No gc: the baseline then includes some garbage, which only lowers the reported peak.
  }
}

/** The 1 GiB stream figure (two rows: JS memory, the goal; RSS, for reference). */
export function memoryFigure(total: number, chunkBytes: number): Figure {
  const jsName = `peak JS memory (heapUsed + arrayBuffers) above baseline, streaming ${total / MiB / 1024} GiB Node↔Node`
  const rssName = `peak RSS above baseline, same transfer`
  const goal: Goal = { op: '≤', value: 64, on: 'value' }
  return {
    rows: [
      { issue: ISSUE.values, name: jsName, goal },
      { issue: ISSUE.values, name: rssName },
    ],
    async run(env) {
      collectGarbage()
      const before = sample()
      let peak = before
      const timer = setInterval(() => {
        const now = sample()
        peak = { js: Math.max(peak.js, now.js), rss: Math.max(peak.rss, now.rss) }
      }, 20)
      let ms: number
      try {
        await env.b.call('armStream', total)
        const started = await env.a.call('sendStream', total, chunkBytes)
        ms = (await env.b.call('result')) - started
      } finally {
        clearInterval(timer)
      }
      const after = sample()
      peak = { js: Math.max(peak.js, after.js), rss: Math.max(peak.rss, after.rss) }
      const note =
        `peer.send({ stream: ReadableStream }) of ${total / MiB} MiB in ${chunkBytes / 1024} KiB chunks ` +
        `(views of one preallocated buffer), the receiver reading the ReadableStream to its end; both ` +
        `peers in this process, process.memoryUsage() sampled every 20 ms; baseline = 0 (the value ` +
        `just before the transfer, after a GC, is subtracted: ${(before.js / MiB).toFixed(1)} MiB JS, ` +
        `${(before.rss / MiB).toFixed(0)} MiB RSS). Transfer took ${(ms / 1000).toFixed(1)} s ` +
        `(${mibPerSecond(total, ms).toFixed(1)} MiB/s).`
      return [
        {
          issue: ISSUE.values,
          name: jsName,
          unit: 'MiB',
          peerject: (peak.js - before.js) / MiB,
          baseline: 0,
          goal,
          note,
        },
        {
          issue: ISSUE.values,
          name: rssName,
          unit: 'MiB',
          peerject: (peak.rss - before.rss) / MiB,
          baseline: 0,
          note: 'RSS includes node-datachannel’s native SCTP/DTLS buffers and memory the allocator keeps.',
        },
      ]
    },
  }
}
