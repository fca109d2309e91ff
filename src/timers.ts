/** Timer helpers shared by the layers. */

/**
 * The longest delay `setTimeout` honours (2³¹ − 1 ms, about 24.8 days): longer ones, Infinity
 * included, fire at once (Node warns and uses 1 ms). peerject treats a timeout above it as none.
 */
const MAX_TIMER_MS = 2_147_483_647

/** True when `ms` is a delay a timer can wait for; false means "no timeout". */
export function isTimerDelay(ms: number): boolean {
  return ms <= MAX_TIMER_MS
}
