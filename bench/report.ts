/**
 * Benchmark rows: what each figure reports, whether it meets its goal, and the printed table /
 * bench/results files (latest.json, latest.md; overwritten each run).
 */
import { mkdir, writeFile } from 'node:fs/promises'

/** A goal on a row's ratio (or, for absolute figures, on its peerject value). */
export interface Goal {
  readonly op: '≥' | '≤'
  readonly value: number
  /** What the goal applies to. Default 'ratio'. */
  readonly on?: 'ratio' | 'value'
}

/** One figure. */
export interface Row {
  /** Issue it belongs to, e.g. 'Issue 3 (values)'. */
  readonly issue: string
  readonly name: string
  /** Unit of `peerject` and `baseline`. */
  readonly unit?: string
  readonly peerject?: number
  readonly baseline?: number
  /** peerject ÷ baseline. */
  readonly ratio?: number
  /** Absent for reference rows. */
  readonly goal?: Goal
  /** What was compared, how many repetitions, anything a reader needs. */
  readonly note?: string
  /** Why the figure could not be measured. */
  readonly failed?: string
}

/** `true`/`false` for rows with a goal, `undefined` for reference rows and failures. */
export function met(row: Row): boolean | undefined {
  if (row.failed !== undefined || row.goal === undefined) return undefined
  const measured = row.goal.on === 'value' ? row.peerject : row.ratio
  if (measured === undefined || !Number.isFinite(measured)) return false
  return row.goal.op === '≥' ? measured >= row.goal.value : measured <= row.goal.value
}

/** A row for a figure that could not be measured. */
export function failedRow(issue: string, name: string, reason: string, goal?: Goal): Row {
  return { issue, name, failed: reason, ...(goal === undefined ? {} : { goal }) }
}

function number(value: number | undefined): string {
  if (value === undefined) return '—'
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return value.toFixed(0)
  if (abs >= 100) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toFixed(3)
}

function goalText(row: Row): string {
  if (row.goal === undefined) return 'reference'
  const unit = row.goal.on === 'value' && row.unit !== undefined ? ` ${row.unit}` : ''
  return `${row.goal.op} ${row.goal.value}${unit}`
}

function metText(row: Row): string {
  if (row.failed !== undefined) return `failed: ${row.failed}`
  const ok = met(row)
  return ok === undefined ? '—' : ok ? 'yes' : 'NO'
}

/** Table cells of a row: name, peerject, baseline, ratio, goal, met?. */
function cells(row: Row): string[] {
  const unit = row.unit === undefined ? '' : ` ${row.unit}`
  return [
    row.name,
    row.peerject === undefined ? '—' : `${number(row.peerject)}${unit}`,
    row.baseline === undefined ? '—' : `${number(row.baseline)}${unit}`,
    number(row.ratio),
    goalText(row),
    metText(row),
  ]
}

const HEADER = ['name', 'peerject', 'baseline', 'ratio', 'goal', 'met?']

/** The table as aligned plain text, grouped by issue; failure reasons as numbered notes below. */
export function textTable(rows: readonly Row[]): string {
  const reasons: string[] = []
  const body = rows.map((row) => {
    const c = cells(row)
    if (row.failed !== undefined) {
      reasons.push(row.failed)
      c[5] = `failed [${reasons.length}]`
    }
    return c
  })
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? '').length)))
  const line = (c: readonly string[]): string =>
    c
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  const out: string[] = [line(HEADER), widths.map((w) => '─'.repeat(w)).join('  ')]
  let issue: string | undefined
  rows.forEach((row, i) => {
    if (row.issue !== issue) {
      issue = row.issue
      out.push(`· ${issue}`)
    }
    out.push(line(body[i] ?? []))
  })
  if (reasons.length > 0)
    out.push('', ...reasons.map((reason, i) => `[${i + 1}] failed: ${reason}`))
  return out.join('\n')
}

/** The table as markdown, one section per issue, notes below each. */
export function markdownTable(rows: readonly Row[]): string {
  const escape = (text: string): string => text.replaceAll('|', '\\|')
  const out: string[] = []
  const issues = [...new Set(rows.map((row) => row.issue))]
  for (const issue of issues) {
    const inIssue = rows.filter((row) => row.issue === issue)
    out.push(
      `### ${issue}`,
      '',
      `| ${HEADER.join(' | ')} |`,
      `|${HEADER.map(() => '---').join('|')}|`,
    )
    for (const row of inIssue) out.push(`| ${cells(row).map(escape).join(' | ')} |`)
    const notes = inIssue.filter((row) => row.note !== undefined)
    if (notes.length > 0) {
      out.push('')
      for (const row of notes) out.push(`- **${row.name}**: ${row.note ?? ''}`)
    }
    out.push('')
  }
  return out.join('\n')
}

/** Metadata stored with the rows. */
export interface RunInfo {
  readonly startedAt: string
  readonly durationS: number
  readonly node: string
  readonly chromium?: string
  readonly loadAverage: readonly number[]
  readonly cpus: number
  readonly notes: readonly string[]
}

/** Writes `<base>.json` and `<base>.md` into `dir` (latest: a full run; partial: a `--only` run). */
export async function writeResults(
  dir: URL,
  base: 'latest' | 'partial',
  rows: readonly Row[],
  info: RunInfo,
): Promise<void> {
  await mkdir(dir, { recursive: true })
  const json = {
    ...info,
    rows: rows.map((row) => ({ ...row, goalText: goalText(row), met: met(row) ?? null })),
  }
  await writeFile(new URL(`${base}.json`, dir), `${JSON.stringify(json, null, 2)}\n`)
  const md = [
    base === 'latest' ? '# peerject benchmark (latest run)' : '# peerject benchmark (partial run)',
    '',
    `${info.startedAt}, ${info.durationS.toFixed(0)} s; Node ${info.node}` +
      `${info.chromium === undefined ? '' : `, ${info.chromium}`}; ${info.cpus} CPUs, ` +
      `load average at start ${info.loadAverage.map((n) => n.toFixed(2)).join(' / ')}.`,
    '',
    'Every figure is a ratio against a baseline measured in the same run on the same kind of',
    'connection; absolute numbers on a shared VM are noise. The peerject and baseline columns are',
    'medians of the repetitions; where both sides are measured back to back in each repetition, the',
    'ratio is the median of the per-repetition ratios (robust to load changing between repetitions),',
    'so it can differ a little from peerject ÷ baseline.',
    '',
    markdownTable(rows),
    ...(info.notes.length > 0 ? ['## Notes', '', ...info.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n')
  await writeFile(new URL(`${base}.md`, dir), md)
}
