// A small cache of fixed-size pages of a long list that is fetched on demand: the virtual table
// asks for the rows it shows, the cache fetches the pages holding them (each once) and keeps the
// most recently used ones.

export type PageResult<T> = { total: number; items: T[] }

export type PageFetcher<T> = (offset: number, limit: number) => Promise<PageResult<T>>

export class PageCache<T> {
  readonly pageSize: number
  readonly maxPages: number
  /** Rows in the list, as the last page fetched reported. */
  total = $state(0)
  /** The last fetch's error, "" when it succeeded. */
  error = $state('')
  /** Pages fetched so far, counted for tests and diagnostics. */
  fetches = 0

  #fetch: PageFetcher<T>
  #pages = new Map<number, T[]>() // insertion order is recency: oldest first
  #loading = new Map<number, Promise<void>>()
  #generation = 0
  #version = $state(0)
  #range: [number, number] = [0, 0]

  constructor(fetch: PageFetcher<T>, opts: { pageSize?: number; maxPages?: number; total?: number } = {}) {
    this.#fetch = fetch
    this.pageSize = opts.pageSize ?? 200
    this.maxPages = Math.max(2, opts.maxPages ?? 12)
    this.total = opts.total ?? 0
  }

  /** Stores a page fetched elsewhere (the first page, fetched to learn the total). */
  seed(offset: number, result: PageResult<T>): void {
    this.total = result.total
    this.#store(Math.floor(offset / this.pageSize), result.items)
  }

  /** The row at index, or undefined while its page loads. Reading it tracks the cache. */
  get(index: number): T | undefined {
    void this.#version
    const page = this.#pages.get(Math.floor(index / this.pageSize))
    return page?.[index % this.pageSize]
  }

  /** Makes sure the pages holding rows [start, end) are loaded or loading. */
  ensure(start: number, end: number): void {
    this.#range = [start, end]
    if (end <= start) return
    const first = Math.floor(start / this.pageSize)
    const last = Math.floor((end - 1) / this.pageSize)
    for (let p = first; p <= last; p++) {
      const page = this.#pages.get(p)
      if (page) {
        // Most recently used goes last.
        this.#pages.delete(p)
        this.#pages.set(p, page)
      } else {
        this.#load(p)
      }
    }
  }

  /** Fetches the pages in view again (the list changed); the rows shown stay until they arrive. */
  refresh(): void {
    this.#generation++
    this.#loading.clear()
    const [start, end] = this.#range
    const keep = new Set<number>()
    if (end > start) {
      for (let p = Math.floor(start / this.pageSize); p <= Math.floor((end - 1) / this.pageSize); p++) keep.add(p)
    }
    for (const p of [...this.#pages.keys()]) if (!keep.has(p)) this.#pages.delete(p)
    for (const p of keep) this.#load(p)
    if (keep.size === 0) this.#load(0)
  }

  #load(page: number): void {
    if (this.#loading.has(page)) return
    const generation = this.#generation
    this.fetches++
    const done = this.#fetch(page * this.pageSize, this.pageSize).then(
      (result) => {
        if (generation !== this.#generation) return
        this.#loading.delete(page)
        this.error = ''
        this.total = result.total
        this.#store(page, result.items)
      },
      (err: unknown) => {
        if (generation !== this.#generation) return
        this.#loading.delete(page)
        this.error = err instanceof Error ? err.message : String(err)
      },
    )
    this.#loading.set(page, done)
  }

  #store(page: number, items: T[]): void {
    this.#pages.delete(page)
    this.#pages.set(page, items)
    const [start, end] = this.#range
    const inView = (p: number) => end > start && p >= Math.floor(start / this.pageSize) && p <= Math.floor((end - 1) / this.pageSize)
    for (const p of this.#pages.keys()) {
      if (this.#pages.size <= this.maxPages) break
      if (!inView(p) && p !== page) this.#pages.delete(p)
    }
    this.#version++
  }

  /** Settles when no page is loading: for tests. */
  async idle(): Promise<void> {
    while (this.#loading.size > 0) await Promise.all([...this.#loading.values()])
  }
}
