/** Small statistics and timing helpers for the benchmark. */

/** Median (mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** The `q` quantile (0–1), nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

/** Rejects with a timeout error when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One line of text for an unknown thrown value. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const text = `${typeof code === 'string' ? `${code}: ` : ''}${error.message}`
    return text.split('\n')[0] ?? text
  }
  return String(error)
}

/** Bytes per MiB. */
export const MiB = 1024 * 1024

/** MiB/s for `bytes` moved in `ms`. */
export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000)
}

/**
 * Median of per-repetition ratios `numerator[i] / denominator[i]`. Each repetition measures both
 * sides back to back, so a change in machine load between repetitions cancels out.
 */
export function pairedRatio(numerator: readonly number[], denominator: readonly number[]): number {
  return median(numerator.map((value, i) => value / (denominator[i] ?? Number.NaN)))
}
