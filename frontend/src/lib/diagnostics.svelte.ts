// Reports for the scripts that drive the window by keyboard (FERRY_DIAGNOSTICS=1): the screen
// shown, where the focus is, the inventory's end, the synchronization's progress and end
// (reportWizard), the rules and the plan (the Rules and Synchronize screens), and the comparison
// table's frame times (the Comparison screen). Each report becomes one line
// "ferry-diagnostics <name> <json>" on the app's stderr; one reporter's go out in order.

import * as api from './api'
import type { Wizard } from './wizard.svelte'

type Timers = {
  now: () => number
  setTimer: (cb: () => void, ms: number) => ReturnType<typeof setTimeout>
  clearTimer: (id: ReturnType<typeof setTimeout>) => void
}

const browserTimers = (): Timers => ({
  now: () => performance.now(),
  setTimer: (cb, ms) => setTimeout(cb, ms),
  clearTimer: (id) => clearTimeout(id),
})

type Throttled = { last: number; waiting?: unknown; timer?: ReturnType<typeof setTimeout> }

export class DiagnosticsReporter {
  #enabled: Promise<boolean>
  #queue: Promise<void> = Promise.resolve()
  #timers: Timers
  #throttled = new Map<string, Throttled>()

  constructor(opts: { enabled?: Promise<boolean>; timers?: Timers } = {}) {
    this.#enabled = opts.enabled ?? api.Diagnostics.enabled()
    this.#timers = opts.timers ?? browserTimers()
  }

  /** Reports data as JSON when diagnostics are on. Reports go out one after the other. */
  report(name: string, data: unknown): void {
    const text = JSON.stringify(data)
    this.#queue = this.#queue.then(async () => {
      if (await this.#enabled) await api.Diagnostics.report(name, text).catch(() => {})
    })
  }

  /**
   * Reports at most one value of name per intervalMs: a value that comes sooner waits for the
   * interval's end, replaced by any later one, so that the last value is always reported.
   */
  throttle(name: string, data: unknown, intervalMs = 100): void {
    const t = this.#throttled.get(name) ?? { last: Number.NEGATIVE_INFINITY }
    this.#throttled.set(name, t)
    const wait = t.last + intervalMs - this.#timers.now()
    if (wait <= 0 && t.timer === undefined) {
      t.last = this.#timers.now()
      this.report(name, data)
      return
    }
    t.waiting = data
    t.timer ??= this.#timers.setTimer(() => this.flush(name), Math.max(0, wait))
  }

  /** Reports the value of name that waits for its interval, if any, at once. */
  flush(name: string): void {
    const t = this.#throttled.get(name)
    if (t?.timer === undefined) return
    this.#timers.clearTimer(t.timer)
    t.timer = undefined
    t.last = this.#timers.now()
    const waiting = t.waiting
    t.waiting = undefined
    this.report(name, waiting)
  }

  dispose(): void {
    for (const t of this.#throttled.values()) {
      if (t.timer !== undefined) this.#timers.clearTimer(t.timer)
    }
    this.#throttled.clear()
  }
}

/** What a focused element is, for the focus report: its id, kind and accessible name. */
export function describeElement(el: Element): { id: string; kind: string; name: string } {
  const type = el instanceof HTMLInputElement ? `:${el.type}` : ''
  const kind = el.getAttribute('role') ?? `${el.tagName.toLowerCase()}${type}`
  const labelled = el.getAttribute('aria-labelledby')
  const name =
    el.getAttribute('aria-label') ??
    (labelled ? document.getElementById(labelled.split(' ')[0])?.textContent : undefined) ??
    (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement ? el.labels?.[0]?.textContent : undefined) ??
    el.textContent ??
    ''
  return { id: el.id, kind, name: name.replace(/\s+/g, ' ').trim().slice(0, 80) }
}

/**
 * Reports, while the calling component lives, the screen and phase at each change (screen),
 * every focus change (focus), the inventory's end (inventory-done), the synchronization's
 * progress as shown, at most ten times a second (sync-progress), and its end (sync-done).
 * Call it while a component initialises.
 */
export function reportWizard(wizard: Wizard, reporter = new DiagnosticsReporter()): void {
  $effect(() => reporter.report('screen', { step: wizard.step, phase: wizard.phase }))
  // A shared profile's run waiting for its members, and the invitations this computer sees.
  $effect(() => {
    const w = wizard.waiting
    if (w) reporter.report('waiting', { profile: w.profile, missing: w.members.filter((m) => !m.joined).length })
  })
  $effect(() => {
    if (wizard.invitations.length > 0) reporter.report('invitations', wizard.invitations.map((i) => i.profile))
  })

  $effect(() => {
    const inv = wizard.inventory
    if (!inv.done) return
    const files = inv.nodes.reduce((n, p) => n + p.files, 0)
    reporter.report('inventory-done', { error: inv.error, nodes: inv.nodes.length, files })
  })

  $effect(() => {
    const s = wizard.sync
    if (s?.state !== 'running') return
    const p = s.progress
    reporter.throttle('sync-progress', { finished: p.finishedActions, total: p.totalActions, errors: p.errorActions })
  })

  let reportedEnd = 0
  $effect(() => {
    const s = wizard.sync
    const { syncStartedAt: started, syncEndedAt: ended } = wizard
    if (wizard.phase !== 'synced' || !s || ended === reportedEnd) return
    reportedEnd = ended
    const p = s.progress
    reporter.flush('sync-progress')
    reporter.report('sync-done', {
      end: s.endStatus,
      finished: p.finishedActions,
      total: p.totalActions,
      errors: p.errorActions,
      ms: started && ended ? ended - started : null,
    })
  })

  $effect(() => {
    const onfocusin = (e: FocusEvent) => {
      if (e.target instanceof Element) reporter.report('focus', describeElement(e.target))
    }
    window.addEventListener('focusin', onfocusin)
    // A child focused itself before this listener was there.
    const at = document.activeElement
    if (at && at !== document.body) reporter.report('focus', describeElement(at))
    return () => {
      window.removeEventListener('focusin', onfocusin)
      reporter.dispose()
    }
  })
}
