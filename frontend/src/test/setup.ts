// What the component tests share: the fake services and runtime, and a measurable table.
import { vi } from 'vitest'
import type { ComparisonPage, Item, SessionInfo } from '../lib/types'

export const session = (over: Partial<SessionInfo> = {}): SessionInfo => ({
  id: '123abc456',
  password: 'amber-tide-6142',
  serverURL: 'http://127.0.0.1:7420',
  embedded: true,
  self: 'm1',
  members: [{ id: 'm1', letter: 'A', status: 'InventoryWaitingForStart', self: true, present: true, nodes: [] }],
  ...over,
})

/** Item i of a made-up comparison: its path says its index. */
export function item(i: number): Item {
  return {
    path: `dir${Math.floor(i / 1000)}/file-${String(i).padStart(6, '0')}.txt`,
    kind: 'file',
    cells: {
      A: { present: true, size: 1000 + i, mtime: '2024-03-05T14:22:00Z', content: 'A', date: 'A', accessIssue: false },
      B: { present: i % 3 !== 0, size: 1000 + i, mtime: '2024-03-05T14:22:00Z', content: i % 2 ? 'A' : 'B', date: 'A', accessIssue: false },
    },
    actions: i % 3 === 0 ? [{ op: 'copy', source: 'A', targets: ['B'], targeted: false }] : [],
  }
}

/** Comparison.Page over total made-up items, resolved when release() is called if held. */
export function pager(total: number) {
  return async (_filter: string, offset: number, limit: number): Promise<ComparisonPage> => {
    const items: Item[] = []
    for (let i = offset; i < Math.min(total, offset + limit); i++) items.push(item(i))
    return { total, offset, items }
  }
}

/** jsdom lays nothing out: give every grid a height, as the window would. */
export function gridHeight(px: number): void {
  const original = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight')
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.getAttribute('role') === 'grid' ? px : (original?.get?.call(this) ?? 0)
    },
  })
}

/** Scrolls an element as the user would: sets scrollTop and fires the scroll event. */
export function scrollTo(el: HTMLElement, top: number): void {
  Object.defineProperty(el, 'scrollTop', { configurable: true, writable: true, value: top })
  el.dispatchEvent(new Event('scroll'))
}

export const deferred = <T>() => {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

export { vi }
