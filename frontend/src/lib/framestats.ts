// Frame-time measurement while a list scrolls: the gaps between animation frames while scroll
// events keep coming, summed up once scrolling has stopped for a while.

export type FrameStats = { p50: number; p95: number; max: number; count: number }

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export function frameStats(deltas: number[]): FrameStats {
  const sorted = [...deltas].sort((a, b) => a - b)
  const round = (n: number) => Math.round(n * 100) / 100
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    max: round(sorted.at(-1) ?? 0),
    count: sorted.length,
  }
}

type Clock = {
  now: () => number
  frame: (cb: (t: number) => void) => number
  cancelFrame: (id: number) => void
  setTimer: (cb: () => void, ms: number) => ReturnType<typeof setTimeout>
  clearTimer: (id: ReturnType<typeof setTimeout>) => void
}

const browserClock = (): Clock => ({
  now: () => performance.now(),
  frame: (cb) => requestAnimationFrame(cb),
  cancelFrame: (id) => cancelAnimationFrame(id),
  setTimer: (cb, ms) => setTimeout(cb, ms),
  clearTimer: (id) => clearTimeout(id),
})

/** Why a report came: scrolling stopped for a while, or the list lost the focus. */
export type ScrollEnd = 'idle' | 'leave'

/**
 * Call scrolled() on every scroll event. Frames are timed while scroll events arrive: the run of
 * frames ends with a frame that had no scroll event since the previous one and none in the last
 * activeMs. Once no scroll event came for idleMs, report gets the stats of the frames timed
 * since the last report; leave() reports them at once.
 */
export class ScrollFrameMeter {
  #report: (stats: FrameStats, end: ScrollEnd) => void
  #clock: Clock
  #idleMs: number
  #activeMs: number
  #deltas: number[] = []
  #lastScroll = 0
  #scrolledSinceFrame = false
  #lastFrame: number | undefined
  #frame = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(report: (stats: FrameStats, end: ScrollEnd) => void, opts: { idleMs?: number; activeMs?: number; clock?: Clock } = {}) {
    this.#report = report
    this.#clock = opts.clock ?? browserClock()
    this.#idleMs = opts.idleMs ?? 500
    this.#activeMs = opts.activeMs ?? 100
  }

  scrolled(): void {
    this.#lastScroll = this.#clock.now()
    this.#scrolledSinceFrame = true
    if (!this.#frame) this.#frame = this.#clock.frame(this.#tick)
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = this.#clock.setTimer(this.#finish, this.#idleMs)
  }

  #tick = (t: number) => {
    this.#frame = 0
    if (this.#lastFrame !== undefined) this.#deltas.push(t - this.#lastFrame)
    // A slow frame with a scroll event before it still counts, however long it took.
    const scrolled = this.#scrolledSinceFrame
    this.#scrolledSinceFrame = false
    if (scrolled || this.#clock.now() - this.#lastScroll < this.#activeMs) {
      this.#lastFrame = t
      this.#frame = this.#clock.frame(this.#tick)
    } else {
      this.#lastFrame = undefined
    }
  }

  /**
   * Ends the measurement now (the list lost the focus): report gets what was timed since the
   * last report, even nothing (count 0), so that every frame before is known to be reported.
   */
  leave(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#finish('leave')
  }

  #finish = (end: ScrollEnd = 'idle') => {
    this.#timer = undefined
    if (this.#frame) this.#clock.cancelFrame(this.#frame)
    this.#frame = 0
    this.#lastFrame = undefined
    const deltas = this.#deltas
    this.#deltas = []
    if (deltas.length > 0 || end === 'leave') this.#report(frameStats(deltas), end)
  }

  dispose(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    if (this.#frame) this.#clock.cancelFrame(this.#frame)
    this.#timer = undefined
    this.#frame = 0
  }
}

/** Resolves after the next frame has been painted (two animation frames). */
export function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())))
}
