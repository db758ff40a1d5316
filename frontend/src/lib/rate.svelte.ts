// A transfer rate over a moving window of (time, bytes done) samples.

export class RateMeter {
  /** Bytes per second over the window, 0 until two samples span some time. */
  bytesPerSecond = $state(0)

  readonly windowMs: number
  #samples: { t: number; bytes: number }[] = []

  constructor(windowMs: number) {
    this.windowMs = windowMs
  }

  reset(): void {
    this.#samples = []
    this.bytesPerSecond = 0
  }

  add(t: number, bytes: number): void {
    const last = this.#samples.at(-1)
    if (last && bytes < last.bytes) this.#samples = [] // a new run
    this.#samples.push({ t, bytes })
    // Keep one sample older than the window so the window is always spanned.
    while (this.#samples.length > 2 && this.#samples[1].t <= t - this.windowMs) this.#samples.shift()
    const first = this.#samples[0]
    const span = t - first.t
    this.bytesPerSecond = span > 0 ? ((bytes - first.bytes) * 1000) / span : 0
  }

  /** Milliseconds left for remaining bytes at the current rate, NaN when unknown. */
  eta(remaining: number): number {
    if (remaining <= 0) return 0
    if (this.bytesPerSecond <= 0) return Number.NaN
    return (remaining / this.bytesPerSecond) * 1000
  }
}
