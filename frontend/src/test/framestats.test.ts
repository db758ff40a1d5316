import { describe, expect, it } from 'vitest'
import { frameStats, percentile, ScrollFrameMeter, type FrameStats, type ScrollEnd } from '../lib/framestats'
import { RateMeter } from '../lib/rate.svelte'

/** A clock whose frames and timers run only when the test advances it. */
function fakeClock() {
  let t = 0
  let nextId = 1
  const frames = new Map<number, (t: number) => void>()
  const timers = new Map<number, { at: number; cb: () => void }>()
  return {
    now: () => t,
    frame: (cb: (t: number) => void) => {
      const id = nextId++
      frames.set(id, cb)
      return id
    },
    cancelFrame: (id: number) => void frames.delete(id),
    setTimer: (cb: () => void, ms: number) => {
      const id = nextId++
      timers.set(id, { at: t + ms, cb })
      return id as unknown as ReturnType<typeof setTimeout>
    },
    clearTimer: (id: ReturnType<typeof setTimeout>) => void timers.delete(id as unknown as number),
    /** Moves time to at, running the frame callbacks (one frame) then due timers. */
    advance(to: number, frame = true) {
      t = to
      if (frame) {
        const due = [...frames.entries()]
        frames.clear()
        for (const [, cb] of due) cb(t)
      }
      for (const [id, timer] of [...timers.entries()]) {
        if (timer.at <= t) {
          timers.delete(id)
          timer.cb()
        }
      }
    },
  }
}

describe('frame statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 50)).toBe(50)
    expect(percentile(sorted, 95)).toBe(95)
    expect(frameStats([16, 17, 50, 16])).toEqual({ p50: 16, p95: 50, max: 50, count: 4 })
  })

  it('times frames while scroll events come and reports once scrolling stops for 500 ms', () => {
    const clock = fakeClock()
    const reports: FrameStats[] = []
    const meter = new ScrollFrameMeter((s) => reports.push(s), { clock })
    // Ten frames of 16 ms with a scroll event in each, then a slower one of 40 ms.
    let t = 0
    for (let i = 0; i < 10; i++) {
      meter.scrolled()
      t += 16
      clock.advance(t)
    }
    meter.scrolled()
    t += 40
    clock.advance(t)
    // A frame of 150 ms while scrolling: longer than the 100 ms of grace, and counted.
    meter.scrolled()
    t += 150
    clock.advance(t)
    // Scrolling stops: frames keep running for 100 ms, then stop being timed.
    for (let i = 0; i < 10; i++) {
      t += 16
      clock.advance(t)
    }
    expect(reports).toHaveLength(0)
    clock.advance(t + 600, false)
    expect(reports).toHaveLength(1)
    const [r] = reports
    expect(r.max).toBe(150)
    expect(r.p50).toBe(16)
    // No frame of the idle time is counted: 11 scrolling gaps + the frames up to 100 ms later.
    expect(r.count).toBeGreaterThanOrEqual(11)
    expect(r.count).toBeLessThanOrEqual(18)
    // Nothing more to report without scrolling.
    clock.advance(t + 2000)
    expect(reports).toHaveLength(1)
  })

  it('reports at once when the list loses the focus, even nothing', () => {
    const clock = fakeClock()
    const reports: [FrameStats, ScrollEnd][] = []
    const meter = new ScrollFrameMeter((s, end) => reports.push([s, end]), { clock })
    let t = 0
    for (let i = 0; i < 5; i++) {
      meter.scrolled()
      t += 20
      clock.advance(t)
    }
    meter.leave()
    expect(reports).toEqual([[{ p50: 20, p95: 20, max: 20, count: 4 }, 'leave']])
    // The idle timer was dropped: no second report of the same frames.
    clock.advance(t + 1000)
    expect(reports).toHaveLength(1)
    meter.leave()
    expect(reports[1]).toEqual([{ p50: 0, p95: 0, max: 0, count: 0 }, 'leave'])
  })
})

describe('RateMeter', () => {
  it('measures over a moving window and estimates the time left', () => {
    const rate = new RateMeter(5000)
    rate.add(0, 0)
    expect(rate.bytesPerSecond).toBe(0)
    expect(Number.isNaN(rate.eta(100))).toBe(true)
    rate.add(1000, 10_000_000)
    expect(rate.bytesPerSecond).toBe(10_000_000)
    // A faster stretch pushes the slow start out of the window.
    for (let s = 2; s <= 10; s++) rate.add(s * 1000, 10_000_000 + (s - 1) * 20_000_000)
    expect(rate.bytesPerSecond).toBeCloseTo(20_000_000, -3)
    expect(rate.eta(40_000_000)).toBeCloseTo(2000, -1)
    expect(rate.eta(0)).toBe(0)
  })
})
