/**
 * The figures measured in both environments (Node↔Node, Chromium↔Chromium), written once against
 * {@link Env}. Repetitions alternate peerject and baseline (and which goes first), so a slow moment
 * on the shared machine hits both; every figure reports medians.
 */
import type { Env } from './env.js'
import { WARM_UP_BLOCKS, WARM_UP_CHAIN_BLOCKS, type BulkMode } from './side.js'
import type { Goal, Row } from './report.js'
import { MiB, median, mibPerSecond, pairedRatio, quantile } from './stats.js'

/** Issue labels (the table groups by these). */
export const ISSUE = {
  values: 'Issue 3 (values)',
  refs: 'Issue 4 (references)',
  code: 'Issue 5 (code objects)',
  peerjs: 'Issue 6 (PeerJS)',
} as const

/** A figure: its declared rows (reported as failed if it throws) and how to measure it. */
export interface Figure<E = Env> {
  readonly rows: ReadonlyArray<{ readonly issue: string; readonly name: string; goal?: Goal }>
  run(env: E): Promise<Row[]>
}

/** Time of one transfer: arm the receiver, send, read the receiver's stamp. */
export async function transfer(env: Env, mode: BulkMode, total: number): Promise<number> {
  await env.b.call('armBulk', mode, total)
  const started = await env.a.call('sendBulk', mode, total, env.info.chunkBytes)
  const ended = await env.b.call('result')
  return ended - started
}

/** Alternating repetitions of two measurements; returns both sample lists. */
export async function alternate(
  reps: number,
  first: () => Promise<number>,
  second: () => Promise<number>,
): Promise<[number[], number[]]> {
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      a.push(await first())
      b.push(await second())
    } else {
      b.push(await second())
      a.push(await first())
    }
  }
  return [a, b]
}

const fmt = (values: readonly number[], digits = 0): string =>
  values.map((v) => v.toFixed(digits)).join(', ')

/** Bulk object ÷ raw pre-chunked bytes, same connection kind. */
export function bulkFigure(
  label: string,
  total: number,
  reps: number,
  mode: 'peerject' | 'transfer' = 'peerject',
): Figure {
  const how = mode === 'transfer' ? ' (send with transfer)' : ''
  const name = `bulk ${total / MiB} MiB object throughput${how} ÷ raw channel, ${label}`
  const goal: Goal = { op: '≥', value: 0.95 }
  return {
    rows: [{ issue: ISSUE.values, name, goal }],
    async run(env) {
      await transfer(env, 'raw', 8 * MiB) // warm-up: JIT, SCTP congestion window
      await transfer(env, mode, 8 * MiB)
      const [pj, raw] = await alternate(
        reps,
        () => transfer(env, mode, total),
        () => transfer(env, 'raw', total),
      )
      const peerject = mibPerSecond(total, median(pj))
      const baseline = mibPerSecond(total, median(raw))
      return [
        {
          issue: ISSUE.values,
          name,
          unit: 'MiB/s',
          peerject,
          baseline,
          ratio: pairedRatio(raw, pj),
          goal,
          note:
            `peer.send({ data: Uint8Array(${total / MiB} MiB) }${mode === 'transfer' ? ', { transfer: [data.buffer] }' : ''}) until the receiving room's 'message' vs ` +
            `the same bytes as ${env.info.chunkBytes / 1024} KiB messages (the negotiated frame size) on a ` +
            `second mesh-connector/simple-peer/ChannelTransport connection, awaiting transport.send, until ` +
            `the last byte arrived. ${reps} alternating reps, ms peerject [${fmt(pj)}], raw [${fmt(raw)}].`,
        },
      ]
    },
  }
}

async function countTime(env: Env, mode: 'peerject' | 'raw', count: number): Promise<number> {
  await env.b.call('armCount', mode, count)
  const started = await env.a.call('sendSmall', mode, count, 1024)
  const ended = await env.b.call('result')
  return ended - started
}

/** 1 KiB objects per second ÷ raw 1 KiB messages per second. */
export function smallFigure(label: string, count: number, reps: number): Figure {
  const name = `1 KiB objects/s ÷ raw 1 KiB messages/s, ${label}`
  const goal: Goal = { op: '≥', value: 1.0 }
  return {
    rows: [{ issue: ISSUE.values, name, goal }],
    async run(env) {
      await countTime(env, 'raw', 2000)
      await countTime(env, 'peerject', 2000)
      const [pj, raw] = await alternate(
        reps,
        () => countTime(env, 'peerject', count),
        () => countTime(env, 'raw', count),
      )
      const peerject = count / (median(pj) / 1000)
      const baseline = count / (median(raw) / 1000)
      return [
        {
          issue: ISSUE.values,
          name,
          unit: 'msg/s',
          peerject,
          baseline,
          ratio: pairedRatio(raw, pj),
          goal,
          note:
            `${count} × peer.send({ seq, data: Uint8Array(1024) }) issued without awaiting each, vs ${count} raw ` +
            `1024-byte transport.send (each awaited, as the transport contract requires), timed until the ` +
            `receiver counted the last one. ${reps} alternating reps, ms peerject [${fmt(pj)}], raw [${fmt(raw)}].`,
        },
      ]
    },
  }
}

/** 1 KiB value ping-pong during a bulk transfer ÷ idle. */
export function latencyFigure(label: string, total: number, reps: number): Figure {
  const name = `1 KiB round trip during a ${total / MiB} MiB transfer ÷ idle, ${label}`
  const goal: Goal = { op: '≤', value: 3 }
  return {
    rows: [{ issue: ISSUE.values, name, goal }],
    async run(env) {
      const idle: number[] = []
      const loaded: number[] = []
      const bulkMs: number[] = []
      idle.push(...(await env.a.call('valuePings', 100, 1024)))
      for (let i = 0; i < reps; i++) {
        await env.b.call('armBulk', 'peerject', total)
        const run = await env.a.call('pingsDuringBulk', total, 1024)
        await env.b.call('result')
        loaded.push(...run.samples)
        bulkMs.push(run.bulkMs)
        idle.push(...(await env.a.call('valuePings', 100, 1024)))
      }
      const peerject = median(loaded)
      const baseline = median(idle)
      return [
        {
          issue: ISSUE.values,
          name,
          unit: 'ms',
          peerject,
          baseline,
          ratio: peerject / baseline,
          goal,
          note:
            `sequential peer.send({ ping, pad: 1 KiB }) → echoed { pong, pad } while peer.send of a ` +
            `${total / MiB} MiB value to the same peer is in flight (${reps} transfers, ${loaded.length} ` +
            `pings, p95 ${quantile(loaded, 0.95).toFixed(1)} ms, transfers took ${fmt(bulkMs)} ms) vs the ` +
            `same ping-pong idle (${idle.length} pings, before/between/after).`,
        },
      ]
    },
  }
}

/** RPC round trip ÷ raw wire ping-pong, and a pipelined chain of 3 ÷ one call. */
export function roundTripFigure(label: string, blocks: number, perBlock: number): Figure {
  const rpcName = `RPC round trip ÷ raw ping-pong, ${label}`
  const chainName = `pipelined chain of 3 calls ÷ one call, ${label}`
  const rpcGoal: Goal = { op: '≤', value: 1.1 }
  const chainGoal: Goal = { op: '≤', value: 1.2 }
  return {
    rows: [
      { issue: ISSUE.refs, name: rpcName, goal: rpcGoal },
      { issue: ISSUE.refs, name: chainName, goal: chainGoal },
    ],
    async run(env) {
      const trips = await env.a.call('roundTrips', blocks, perBlock)
      const raw = median(trips.raw)
      const rpc = median(trips.rpc)
      const chain = median(trips.chain)
      return [
        {
          issue: ISSUE.refs,
          name: rpcName,
          unit: 'ms',
          peerject: rpc,
          baseline: raw,
          ratio: pairedRatio(trips.rpc, trips.raw),
          goal: rpcGoal,
          note:
            `await remote.echo(i) (call + pull out, return back) vs 8 bytes sent with ` +
            `wire.sendMessage on spare wire channel 9 and echoed the same way (same connection, same ` +
            `wire, bytes only). After ${WARM_UP_BLOCKS} unmeasured blocks (chains in the first ${WARM_UP_CHAIN_BLOCKS}), medians of ${blocks} interleaved blocks of ${perBlock} sequential round ` +
            `trips each (block mean per round trip; p95 of blocks: rpc ${quantile(trips.rpc, 0.95).toFixed(2)} ms, ` +
            `raw ${quantile(trips.raw, 0.95).toFixed(2)} ms).`,
        },
        {
          issue: ISSUE.refs,
          name: chainName,
          unit: 'ms',
          peerject: chain,
          baseline: rpc,
          ratio: pairedRatio(trips.chain, trips.rpc),
          goal: chainGoal,
          note: `await api.step(i).next(1).done() vs await api.echo(i), in the same interleaved blocks.`,
        },
      ]
    },
  }
}

/** Calls per second with many in flight, and as a ratio to raw ping-pong messages per second. */
export function callRateFigure(label: string, total: number, window: number, reps: number): Figure {
  const name = `calls/s (${window} in flight) ÷ raw ping-pong msgs/s, ${label}`
  return {
    rows: [{ issue: ISSUE.refs, name }],
    async run(env) {
      // Warm-up (not measured): bursts of the measured size, so both sides' JIT and heap settle.
      for (let i = 0; i < 3; i++) {
        await env.a.call('callBurst', 'rpc', total, window)
        await env.a.call('callBurst', 'raw', total, window)
      }
      const [rpc, raw] = await alternate(
        reps,
        () => env.a.call('callBurst', 'rpc', total, window),
        () => env.a.call('callBurst', 'raw', total, window),
      )
      const peerject = total / (median(rpc) / 1000)
      const baseline = total / (median(raw) / 1000)
      return [
        {
          issue: ISSUE.refs,
          name,
          unit: '/s',
          peerject,
          baseline,
          ratio: pairedRatio(raw, rpc),
          note:
            `${total} await remote.echo(i) in batches of ${window} concurrent calls vs the same number of ` +
            `raw wire pings (8 bytes, echoed) in the same batches. ${reps} alternating reps, ms rpc ` +
            `[${fmt(rpc)}], raw [${fmt(raw)}]. No goal: reported for reference.`,
        },
      ]
    },
  }
}
