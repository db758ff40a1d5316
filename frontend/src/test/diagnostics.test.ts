import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { tick } from 'svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import App from '../App.svelte'
import { DiagnosticsReporter } from '../lib/diagnostics.svelte'
import type { Progress, SyncStatus } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'
import { session } from './setup'

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

/** Timers that fire only when the test moves the time. */
function fakeTimers() {
  let t = 0
  let nextId = 1
  const timers = new Map<number, { at: number; cb: () => void }>()
  return {
    now: () => t,
    setTimer: (cb: () => void, ms: number) => {
      timers.set(nextId, { at: t + ms, cb })
      return nextId++ as unknown as ReturnType<typeof setTimeout>
    },
    clearTimer: (id: ReturnType<typeof setTimeout>) => void timers.delete(id as unknown as number),
    advance(to: number) {
      t = to
      for (const [id, timer] of [...timers]) {
        if (timer.at <= t) {
          timers.delete(id)
          timer.cb()
        }
      }
    },
  }
}

/** The reports made so far, as [name, parsed data]. */
const reports = () => api.Diagnostics.report.mock.calls.map(([name, data]) => [name, JSON.parse(data)] as const)
const named = (name: string) => reports().filter(([n]) => n === name).map(([, d]) => d)

describe('DiagnosticsReporter', () => {
  it('reports in order, and nothing when diagnostics are off', async () => {
    const on = new DiagnosticsReporter({ enabled: Promise.resolve(true) })
    on.report('a', { n: 1 })
    on.report('b', 'two')
    await waitFor(() => expect(api.Diagnostics.report).toHaveBeenCalledTimes(2))
    expect(api.Diagnostics.report.mock.calls).toEqual([
      ['a', '{"n":1}'],
      ['b', '"two"'],
    ])

    api.Diagnostics.report.mockClear()
    const off = new DiagnosticsReporter({ enabled: Promise.resolve(false) })
    off.report('a', 1)
    await new Promise((r) => setTimeout(r, 10))
    expect(api.Diagnostics.report).not.toHaveBeenCalled()
  })

  it('throttles a name to one report per interval, ending with the last value', async () => {
    const timers = fakeTimers()
    const r = new DiagnosticsReporter({ enabled: Promise.resolve(true), timers })
    r.throttle('p', 1, 100) // at once
    timers.advance(30)
    r.throttle('p', 2, 100) // waits
    timers.advance(60)
    r.throttle('p', 3, 100) // replaces 2
    timers.advance(100) // 3 goes out
    r.throttle('p', 4, 100) // waits again: 3 went out at 100
    r.flush('p') // 4 goes out now
    timers.advance(1000)
    r.throttle('p', 5, 100) // the interval passed: at once
    await waitFor(() => expect(named('p')).toEqual([1, 3, 4, 5]))
    r.dispose()
  })
})

describe('App diagnostics', () => {
  const running = (progress: Partial<Progress>, over: Partial<SyncStatus> = {}): SyncStatus => ({
    ...api.idleStatus(),
    state: 'running',
    progress: { totalActions: 300, finishedActions: 0, errorActions: 0, syncedVolume: 0, totalVolume: 3000, ...progress },
    ...over,
  })

  it('reports the screen, the focus, the inventory end, the rules, the plan and the synchronization', async () => {
    api.Diagnostics.enabled.mockResolvedValue(true)
    api.Sessions.current.mockResolvedValue(session())
    api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'B'], withActions: 5 })
    api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
    api.Synchronization.confirmation.mockResolvedValue(
      api.plan({
        actions: 300,
        bytes: 3000,
        destinations: [{ node: 'B', copies: 300, creates: 0, deletes: 0, dates: 0, bytes: 3000 }],
      }),
    )
    let now = 5000
    render(App, { props: { wizard: new Wizard(() => now) } })
    await screen.findByRole('heading', { level: 1, name: 'Comparison' })
    await waitFor(() => expect(named('screen')).toContainEqual({ step: 'comparison', phase: 'compared' }))
    expect(named('inventory-done')).toEqual([{ error: '', nodes: 0, files: 0 }])
    await waitFor(() => expect(named('focus')).toContainEqual({ id: 'filter', kind: 'searchbox', name: 'Filter items' }))

    // Rules: what the rules are after each change; nothing chosen yet, the mirror is preselected.
    api.Rules.get.mockResolvedValue({ mode: '', text: '', presets: ['mirror'], errors: [], groups: 0 })
    api.Rules.usePreset.mockResolvedValue({ mode: 'mirror', text: '{}', presets: ['mirror'], errors: [], groups: 3 })
    await fireEvent.click(screen.getByRole('button', { name: 'Rules' }))
    await waitFor(() => expect(named('rules')).toEqual([{ mode: 'mirror', groups: 3, errors: 0 }]))
    api.Rules.usePreset.mockResolvedValue({ mode: 'update', text: '{}', presets: ['mirror'], errors: [], groups: 2 })
    await fireEvent.click(await screen.findByRole('radio', { name: /Update/ }))
    await waitFor(() =>
      expect(named('rules')).toEqual([
        { mode: 'mirror', groups: 3, errors: 0 },
        { mode: 'update', groups: 2, errors: 0 },
      ]),
    )

    await fireEvent.click(screen.getByRole('button', { name: 'Synchronize' }))
    await waitFor(() => expect(named('screen')).toContainEqual({ step: 'synchronize', phase: 'compared' }))
    await waitFor(() =>
      expect(named('confirmation')).toEqual([
        { actions: 300, bytes: 3000, copies: 300, creates: 0, deletes: 0, dates: 0, refused: 0, overLimit: false, overFiles: 0 },
      ]),
    )
    const start = await screen.findByRole('button', { name: /Start synchronization/ })
    await waitFor(() => expect(start).toHaveFocus())
    await waitFor(() => expect(named('focus').at(-1)).toEqual({ id: '', kind: 'button', name: 'Start synchronization' }))

    emit('sync:event', { type: 'started', status: running({}) })
    await screen.findByRole('heading', { level: 1, name: 'Synchronizing' })
    for (const finished of [100, 200]) {
      emit('sync:event', { type: 'progress', status: running({ finishedActions: finished }) })
      await tick()
    }
    now += 1500
    emit('sync:done', running({ finishedActions: 300 }, { state: 'ended', endStatus: 'regular' }))
    await screen.findByTestId('outcome')
    await waitFor(() => expect(named('sync-done')).toEqual([{ end: 'regular', finished: 300, total: 300, errors: 0, ms: 1500 }]))
    const progress = named('sync-progress')
    // The first value at once; the later ones within 100 ms were held, and the last one sent before the end.
    expect(progress[0]).toEqual({ finished: 0, total: 300, errors: 0 })
    expect(progress.at(-1)).toEqual({ finished: 200, total: 300, errors: 0 })
    const names = reports().map(([n]) => n)
    expect(names.lastIndexOf('sync-progress')).toBeLessThan(names.indexOf('sync-done'))
    expect(named('screen').at(-1)).toEqual({ step: 'done', phase: 'synced' })
  })

  it('reports the element that took the focus before the app listened', async () => {
    api.Diagnostics.enabled.mockResolvedValue(true)
    render(App)
    const create = await screen.findByRole('button', { name: 'Create session' })
    await waitFor(() => expect(create).toHaveFocus())
    await waitFor(() => expect(named('focus')).toContainEqual({ id: '', kind: 'button', name: 'Create session' }))
    expect(named('screen')[0]).toEqual({ step: 'start', phase: 'none' })
  })

  it('reports nothing when diagnostics are off', async () => {
    render(App)
    await screen.findByRole('button', { name: 'Create session' })
    await waitFor(() => expect(api.Diagnostics.enabled).toHaveBeenCalled())
    await new Promise((r) => setTimeout(r, 20))
    expect(api.Diagnostics.report).not.toHaveBeenCalled()
  })
})
