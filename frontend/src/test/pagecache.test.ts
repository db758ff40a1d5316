import { describe, expect, it, vi } from 'vitest'
import { PageCache, type PageResult } from '../lib/pagecache.svelte'

function source(total: number) {
  const calls: [number, number][] = []
  const held: { offset: number; resolve: () => void }[] = []
  const fetch = vi.fn((offset: number, limit: number) => {
    calls.push([offset, limit])
    return new Promise<PageResult<number>>((resolve) => {
      const items = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, k) => offset + k)
      held.push({ offset, resolve: () => resolve({ total, items }) })
    })
  })
  const release = () => held.splice(0).forEach((h) => h.resolve())
  return { fetch, calls, release }
}

describe('PageCache', () => {
  it('fetches each page holding the asked rows once, by offset', async () => {
    const s = source(100_000)
    const cache = new PageCache(s.fetch, { pageSize: 200 })
    cache.ensure(390, 420) // pages 1 and 2
    cache.ensure(395, 425) // the same pages, still loading
    expect(s.calls).toEqual([
      [200, 200],
      [400, 200],
    ])
    expect(cache.get(390)).toBeUndefined()
    s.release()
    await cache.idle()
    expect(cache.get(390)).toBe(390)
    expect(cache.get(419)).toBe(419)
    expect(cache.total).toBe(100_000)
    cache.ensure(390, 420)
    expect(s.calls).toHaveLength(2)
  })

  it('keeps only the most recent pages', async () => {
    const s = source(100_000)
    const cache = new PageCache(s.fetch, { pageSize: 100, maxPages: 3 })
    for (const start of [0, 100, 200, 300, 400]) {
      cache.ensure(start, start + 10)
      s.release()
      await cache.idle()
    }
    expect(cache.get(400)).toBe(400)
    expect(cache.get(300)).toBe(300)
    expect(cache.get(0)).toBeUndefined()
    cache.ensure(0, 10)
    expect(s.calls.at(-1)).toEqual([0, 100])
  })

  it('keeps showing rows while a refresh loads, and drops answers of an older generation', async () => {
    const s = source(1000)
    const cache = new PageCache(s.fetch, { pageSize: 100 })
    cache.ensure(0, 20)
    s.release()
    await cache.idle()
    cache.ensure(500, 520) // loading when the refresh comes
    cache.refresh()
    expect(cache.get(5)).toBeUndefined() // not in view any more: dropped
    expect(s.calls.at(-1)).toEqual([500, 100])
    s.release()
    await cache.idle()
    expect(cache.get(505)).toBe(505)
  })

  it('reports a failed fetch and tries again on the next ensure', async () => {
    let fail = true
    const cache = new PageCache<number>(
      async (offset) => {
        if (fail) throw new Error('server gone')
        return { total: 10, items: [offset] }
      },
      { pageSize: 10 },
    )
    cache.ensure(0, 5)
    await cache.idle()
    expect(cache.error).toBe('server gone')
    fail = false
    cache.ensure(0, 5)
    await cache.idle()
    expect(cache.error).toBe('')
    expect(cache.get(0)).toBe(0)
  })
})
