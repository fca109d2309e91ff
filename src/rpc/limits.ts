/**
 * Receiver-side limits of one rpc session: what a peer can make this side hold. Breaking one
 * yields ERR_QUOTA for the operation that broke it (or, where noted, closes the session).
 */

/** Per-peer limits of an {@link RpcSession}. */
export interface RpcLimits {
  /**
   * Entries this side's export table may hold for one peer: references it sent plus results of
   * the peer's calls that the peer has not released. A call beyond it rejects ERR_QUOTA; sending
   * a reference beyond it fails the send with ERR_QUOTA. Default 10,000.
   */
  readonly maxExports: number
  /**
   * Entries the import table may hold (references the peer sent and this side still holds).
   * A message that would exceed it is a protocol violation: the session closes with ERR_QUOTA.
   * Default 10,000.
   */
  readonly maxImports: number
  /** Operations of one peer running or queued here at once; beyond it, ERR_QUOTA. Default 1,000. */
  readonly maxCallsInFlight: number
  /** Longest property path a message may carry. Default 32. */
  readonly maxPathLength: number
  /** Longest property name or exposed name, in UTF-16 code units. Default 1,024. */
  readonly maxKeyLength: number
}

/** The documented defaults of {@link RpcLimits}. */
export const DEFAULT_RPC_LIMITS: RpcLimits = Object.freeze({
  maxExports: 10_000,
  maxImports: 10_000,
  maxCallsInFlight: 1_000,
  maxPathLength: 32,
  maxKeyLength: 1_024,
})

/** Fills `limits` with defaults; rejects values that are not positive integers. */
export function resolveLimits(limits: Partial<RpcLimits> | undefined): RpcLimits {
  const merged = { ...DEFAULT_RPC_LIMITS, ...limits }
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw new RangeError(`rpc limits.${key} must be a positive integer, got ${String(value)}`)
    }
  }
  return merged
}
