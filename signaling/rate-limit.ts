/**
 * Per-connection message rate limiting: a token bucket that admits `burst` messages at once and
 * `ratePerSecond` sustained, plus a flood detector that tells when a connection keeps sending
 * after being throttled and should be closed.
 */

/** A clock in milliseconds; injectable so tests need no sleeps. */
export type Clock = () => number

/** Window in which dropped messages are counted by {@link RateLimiter}. */
export const FLOOD_WINDOW_MS = 10_000

/** A token bucket: `take()` spends one token if there is one. */
export class TokenBucket {
  readonly #ratePerMs: number
  readonly #capacity: number
  readonly #now: Clock
  #tokens: number
  #updatedAt: number

  /** A full bucket of `capacity` tokens, refilled at `ratePerSecond`. */
  constructor(
    ratePerSecond: number,
    capacity: number,
    now: Clock = performance.now.bind(performance),
  ) {
    this.#ratePerMs = ratePerSecond / 1000
    this.#capacity = capacity
    this.#now = now
    this.#tokens = capacity
    this.#updatedAt = now()
  }

  /** Spends one token and returns true, or returns false when the bucket is empty. */
  take(): boolean {
    const now = this.#now()
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (now - this.#updatedAt) * this.#ratePerMs,
    )
    this.#updatedAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** What {@link RateLimiter.admit} decided for one message. */
export type RateDecision =
  /** Handle the message. */
  | 'accept'
  /** Drop it and tell the sender (at most one notice per second). */
  | 'drop-notify'
  /** Drop it silently (the sender was told less than a second ago). */
  | 'drop'
  /** The connection keeps flooding: close it. */
  | 'close'

/**
 * A {@link TokenBucket} plus flood detection: once `2 × burst` messages are dropped within
 * {@link FLOOD_WINDOW_MS}, {@link RateLimiter.admit} answers `'close'`.
 */
export class RateLimiter {
  readonly #bucket: TokenBucket
  readonly #closeAfterDrops: number
  readonly #now: Clock
  #windowStart = Number.NEGATIVE_INFINITY
  #droppedInWindow = 0
  #notifiedAt = Number.NEGATIVE_INFINITY

  /** Admits `burst` messages at once and `messagesPerSecond` sustained. */
  constructor(
    messagesPerSecond: number,
    burst: number,
    now: Clock = performance.now.bind(performance),
  ) {
    this.#bucket = new TokenBucket(messagesPerSecond, burst, now)
    this.#closeAfterDrops = 2 * burst
    this.#now = now
  }

  /** Decides what to do with one incoming message. */
  admit(): RateDecision {
    if (this.#bucket.take()) return 'accept'
    const now = this.#now()
    if (now - this.#windowStart > FLOOD_WINDOW_MS) {
      this.#windowStart = now
      this.#droppedInWindow = 0
    }
    this.#droppedInWindow++
    if (this.#droppedInWindow >= this.#closeAfterDrops) return 'close'
    if (now - this.#notifiedAt >= 1000) {
      this.#notifiedAt = now
      return 'drop-notify'
    }
    return 'drop'
  }
}
