import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import App from '../App.svelte'
import type { Confirmation, Progress, SyncStatus } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'
import { gridHeight, session } from './setup'

const GiB = 1024 ** 3

const status = (progress: Partial<Progress>, over: Partial<SyncStatus> = {}): SyncStatus => ({
  ...api.idleStatus(),
  state: 'running',
  progress: { totalActions: 4000, finishedActions: 0, errorActions: 0, syncedVolume: 0, totalVolume: 4 * GiB, ...progress },
  ...over,
})

/** A mirror from an empty folder A (an unmounted drive) onto B: past the deletion limit. */
const emptySourcePlan = (revision = 7): Confirmation =>
  api.plan({
    actions: 45,
    destinations: [{ node: 'B', copies: 0, creates: 0, deletes: 45, dates: 0, bytes: 0 }],
    revision,
    deletions: [
      { part: 'B', node: 'B', root: '/media/backup', deletes: 40, files: 40, emptySource: 'A', emptyRoot: '/media/usb', over: true },
    ],
    overLimit: true,
  })

/** The app with a session compared and ready to synchronize, on a clock the test moves. */
async function setup(
  plan: Confirmation = api.plan({
    actions: 19,
    bytes: GiB,
    destinations: [{ node: 'B', copies: 10, creates: 2, deletes: 3, dates: 4, bytes: GiB }],
    deletions: [{ part: 'B', node: 'B', root: '/backup/photos', deletes: 2, files: 1300, over: false }],
  }),
) {
  api.Sessions.current.mockResolvedValue(session())
  api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'B'], withActions: 5 })
  api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
  api.Synchronization.confirmation.mockResolvedValue(plan)
  let now = 1_000_000
  const wizard = new Wizard(() => now)
  render(App, { props: { wizard } })
  await screen.findByRole('heading', { level: 1, name: 'Comparison' })
  await fireEvent.click(screen.getByRole('button', { name: 'Synchronize' }))
  return { wizard, advance: (ms: number) => (now += ms) }
}

beforeAll(() => gridHeight(400))

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

describe('Synchronize and Done', () => {
  it('confirms the plan, follows sync:event, aborts, and sums up from sync:done', async () => {
    const { wizard, advance } = await setup()
    const table = await screen.findByRole('table', { name: 'Changes per destination node' })
    const row = within(table).getByRole('row', { name: /^B To/ })
    expect(within(row).getAllByRole('cell').map((c) => c.textContent)).toEqual(['10', '2', '3', '4', '1.0 GiB'])
    expect(within(table).getByRole('row', { name: /Total/ })).toHaveTextContent('19 actions')
    const deleted = screen.getByText(/This plan deletes 3 items/).parentElement!
    expect(within(deleted).getByRole('listitem')).toHaveTextContent('Deletes 2 of 1,300 files on To (/backup/photos)')
    expect(screen.queryByRole('region', { name: /Check these deletions/ })).not.toBeInTheDocument()
    const start = screen.getByRole('button', { name: /Start synchronization/ })
    await waitFor(() => expect(start).toHaveFocus())
    await fireEvent.click(start)
    await waitFor(() => expect(api.Synchronization.start).toHaveBeenCalledTimes(1))
    expect(api.Synchronization.allowDeletions).not.toHaveBeenCalled()
    expect(screen.getByRole('button', { name: /Starting…/ })).toBeDisabled()

    emit('sync:event', { type: 'started', status: status({}) })
    expect(await screen.findByRole('heading', { level: 1, name: 'Synchronizing' })).toBeInTheDocument()
    advance(1000)
    emit('sync:event', { type: 'progress', status: status({ finishedActions: 1000, syncedVolume: GiB, errorActions: 2 }) })
    await waitFor(() => expect(screen.getByTestId('sync-actions')).toHaveTextContent('1,000 / 4,000'))
    expect(screen.getByTestId('sync-bytes')).toHaveTextContent('1.0 GiB / 4.0 GiB')
    expect(screen.getByTestId('sync-errors')).toHaveTextContent('2')
    expect(screen.getByRole('progressbar', { name: 'Synchronization progress' })).toHaveAttribute('aria-valuenow', '25')
    expect(screen.getByText('1.0 GiB/s')).toBeInTheDocument()
    expect(screen.getByText('3 s')).toBeInTheDocument()
    expect(screen.getByText('Synchronization 20% done')).toBeInTheDocument()

    // Abort asks first; Keep running changes nothing.
    await fireEvent.click(screen.getByRole('button', { name: /Abort…/ }))
    let dialog = await screen.findByRole('alertdialog', { name: 'Abort the synchronization?' })
    expect(within(dialog).getByRole('button', { name: 'Keep running' })).toHaveFocus()
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep running' }))
    expect(api.Synchronization.abort).not.toHaveBeenCalled()
    await fireEvent.click(screen.getByRole('button', { name: /Abort…/ }))
    dialog = await screen.findByRole('alertdialog', { name: 'Abort the synchronization?' })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Abort' }))
    await waitFor(() => expect(api.Synchronization.abort).toHaveBeenCalledTimes(1))
    expect(await screen.findByRole('button', { name: /Abort requested/ })).toBeDisabled()
    expect(screen.getByText('Stopping after the actions in progress…')).toBeInTheDocument()

    advance(2500)
    const ended = status(
      { finishedActions: 1200, syncedVolume: 1.25 * GiB, errorActions: 2 },
      {
        state: 'ended',
        endStatus: 'aborted',
        endReason: 'Aborted by member A',
        errors: ['dir/a.txt: permission denied', 'dir/b.txt: disk full'],
        items: [
          { path: 'dir/a.txt', op: 'copy', target: 'B', ok: false, error: 'permission denied' },
          { path: 'dir/b.txt', op: 'copy', target: 'B', ok: false, error: 'disk full' },
          { path: 'dir/c.txt', op: 'delete', target: 'B', ok: true },
        ],
      },
    )
    emit('sync:done', ended)
    expect(await screen.findByTestId('outcome')).toHaveTextContent('Synchronization aborted')
    expect(screen.getByText('Aborted by member A')).toBeInTheDocument()
    expect(screen.getByTestId('done-actions')).toHaveTextContent('1,200 / 4,000')
    expect(screen.getByTestId('done-bytes')).toHaveTextContent('1.3 GiB')
    expect(screen.getByTestId('done-errors')).toHaveTextContent('2')
    expect(screen.getByText('4 s')).toBeInTheDocument() // started, then ended 3.5 s later
    const errors = screen.getByRole('region', { name: 'Errors' })
    expect(within(errors).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'dir/a.txt: permission denied',
      'dir/b.txt: disk full',
    ])
    const items = screen.getByRole('grid', { name: 'Item results' })
    expect(within(items).getAllByRole('row')).toHaveLength(4)
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Only failures' }))
    const failures = screen.getByRole('grid', { name: 'Item results' })
    await waitFor(() => expect(within(failures).getAllByRole('row')).toHaveLength(3))
    expect(failures).not.toHaveTextContent('dir/c.txt')
    expect(screen.getByRole('button', { name: 'Done' })).toHaveAttribute('aria-current', 'step')

    // The run was followed from events only: the status was read once, at start.
    expect(api.Synchronization.status).toHaveBeenCalledTimes(1)

    // A new synchronization goes back to the data; nothing is scanned behind the user's back.
    await fireEvent.click(screen.getByRole('button', { name: /New synchronization/ }))
    expect(await screen.findByRole('heading', { level: 1, name: 'Data' })).toBeInTheDocument()
    expect(api.Inventory.start).not.toHaveBeenCalled()
    expect(wizard.sync).toBeNull()
    expect(wizard.phase).toBe('session')
  })

  it('rescans from Nothing to do, and goes back to the comparison when the inventory ends', async () => {
    const { wizard } = await setup(api.plan())
    expect(await screen.findByTestId('nothing-to-do')).toHaveTextContent('rescan')
    expect(screen.getByRole('button', { name: 'Back to rules' })).toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: /Rescan/ }))
    await waitFor(() => expect(api.Inventory.start).toHaveBeenCalledTimes(1))
    expect(wizard.step).toBe('inventory')
    api.Comparison.summary.mockResolvedValue({ total: 2, parts: ['A', 'B'], withActions: 0 })
    emit('inventory:done', {})
    await waitFor(() => expect(wizard.step).toBe('comparison'))
  })

  it('says hidden files and links are left out, and includes hidden files in one click', async () => {
    await setup()
    const note = await screen.findByTestId('hidden-note')
    expect(note).toHaveTextContent('Hidden files and folders (names starting with a dot) and symbolic links are left out')
    await fireEvent.click(within(note).getByRole('checkbox', { name: /Include hidden files/ }))
    await waitFor(() => expect(api.Settings.save).toHaveBeenCalledWith(expect.objectContaining({ includeHidden: true })))
    await waitFor(() => expect(note).toHaveTextContent('Hidden files and folders are included'))
  })

  it('sums up a regular end with its errors, and quits the session', async () => {
    await setup()
    await screen.findByRole('button', { name: /Start synchronization/ })
    emit('sync:event', { type: 'started', status: status({}) })
    emit(
      'sync:event',
      {
        type: 'ended',
        status: status({ finishedActions: 4000, syncedVolume: 4 * GiB, errorActions: 1 }, { state: 'ended', endStatus: 'regular', errors: ['x: failed'] }),
      },
    )
    expect(await screen.findByTestId('outcome')).toHaveTextContent('Synchronization finished with 1 error')
    await waitFor(() => expect(screen.getByRole('button', { name: /New synchronization/ })).toHaveFocus())
    await fireEvent.click(screen.getByRole('button', { name: 'Quit session' }))
    await waitFor(() => expect(api.Sessions.quit).toHaveBeenCalled())
    expect(await screen.findByRole('button', { name: 'Create session' })).toBeInTheDocument()
  })

  it('counts the successes that the list of results leaves out, and rounds the time left up', async () => {
    const { advance } = await setup()
    await screen.findByRole('button', { name: /Start synchronization/ })
    emit('sync:event', { type: 'started', status: status({}) })
    advance(1000)
    emit('sync:event', { type: 'progress', status: status({ finishedActions: 3900, syncedVolume: 3.8 * GiB }) })
    expect(await screen.findByText('1 s')).toBeInTheDocument() // 0.2 GiB at 3.8 GiB/s
    const ok = (path: string) => ({ path, op: 'copy', target: 'B', ok: true })
    emit('sync:done', {
      ...status({ finishedActions: 4000, syncedVolume: 4 * GiB }, { state: 'ended', endStatus: 'regular' }),
      items: [ok('a.txt'), ok('b.txt'), { path: 'c.txt', op: 'copy', target: 'B', ok: false, error: 'disk full' }],
      omittedItems: 3997,
    })
    expect(await screen.findByText(/results,/)).toHaveTextContent('4,000 results, 1 failed; the first 2 successes are listed')
  })

  it('warns of deletions past the limit, and starts only once the box is ticked', async () => {
    await setup(emptySourcePlan())
    const warning = await screen.findByRole('region', { name: 'Check these deletions before you start' })
    expect(within(warning).getByRole('listitem')).toHaveTextContent('Deletes 40 of 40 files on To (/media/backup)')
    expect(warning).toHaveTextContent('A (/media/usb) is empty: is its drive mounted?')
    expect(screen.queryByText(/This plan deletes 45 items/)).not.toBeInTheDocument()
    const box = within(warning).getByRole('checkbox', { name: 'Yes, delete these 40 files' })
    const start = screen.getByRole('button', { name: /Start synchronization/ })
    expect(box).not.toBeChecked()
    expect(box).toHaveAccessibleDescription(/A \(\/media\/usb\) is empty/)
    expect(start).toBeDisabled()

    // The focus is on the box, not on Start: Enter starts nothing, nor does a click on Start.
    await waitFor(() => expect(box).toHaveFocus())
    await fireEvent.keyDown(box, { key: 'Enter' })
    await fireEvent.keyUp(box, { key: 'Enter' })
    await fireEvent.click(start)
    expect(box).not.toBeChecked()
    expect(api.Synchronization.allowDeletions).not.toHaveBeenCalled()
    expect(api.Synchronization.start).not.toHaveBeenCalled()

    // Ticked, Start is enabled, but the focus stays on the box (Space twice must not start).
    await fireEvent.click(box)
    expect(box).toBeChecked()
    expect(start).toBeEnabled()
    expect(box).toHaveFocus()
    expect(api.Synchronization.start).not.toHaveBeenCalled()
    await fireEvent.click(box)
    expect(start).toBeDisabled()
    await fireEvent.click(box)

    await fireEvent.click(start)
    await waitFor(() => expect(api.Synchronization.start).toHaveBeenCalledTimes(1))
    expect(api.Synchronization.allowDeletions).toHaveBeenCalledExactlyOnceWith(7)
    expect(api.Synchronization.allowDeletions.mock.invocationCallOrder[0]).toBeLessThan(
      api.Synchronization.start.mock.invocationCallOrder[0],
    )
  })

  it('shows the plan as it is now when the allowance is refused, and a new deletion limit', async () => {
    const { wizard } = await setup(emptySourcePlan())
    const box = await screen.findByRole('checkbox', { name: 'Yes, delete these 40 files' })
    await fireEvent.click(box)
    // The plan changed meanwhile: the Go side refuses the allowance of the one shown.
    api.Synchronization.allowDeletions.mockRejectedValueOnce(new Error('the plan changed since it was shown: check what it deletes again'))
    api.Synchronization.confirmation.mockResolvedValue(
      api.plan({
        actions: 700,
        destinations: [{ node: 'B', copies: 0, creates: 0, deletes: 700, dates: 0, bytes: 0 }],
        revision: 8,
        deletions: [{ part: 'B', node: 'B', root: '/media/backup', deletes: 700, files: 1000, over: true }],
        overLimit: true,
      }),
    )
    await fireEvent.click(screen.getByRole('button', { name: /Start synchronization/ }))
    expect(await screen.findByRole('alert')).toHaveTextContent('the plan changed since it was shown')
    expect(api.Synchronization.start).not.toHaveBeenCalled()
    const again = await screen.findByRole('checkbox', { name: 'Yes, delete these 700 files' })
    expect(again).not.toBeChecked() // ticked for the plan before
    expect(screen.getByRole('button', { name: /Start synchronization/ })).toBeDisabled()
    const warning = screen.getByRole('region', { name: 'Check these deletions before you start' })
    expect(warning).toHaveTextContent('Deletes 700 of 1,000 files on To (/media/backup)')
    expect(warning).toHaveTextContent('That is 70% of the files on To, past the deletion limit of 50% (default).')

    // A new limit in the settings: the plan is read again, now under the limit.
    api.Synchronization.confirmation.mockResolvedValue(
      api.plan({
        actions: 700,
        destinations: [{ node: 'B', copies: 0, creates: 0, deletes: 700, dates: 0, bytes: 0 }],
        revision: 8,
        deletions: [{ part: 'B', node: 'B', root: '/media/backup', deletes: 700, files: 1000, over: false }],
        deleteLimit: '80%',
      }),
    )
    const calls = api.Synchronization.confirmation.mock.calls.length
    wizard.settings = { ...wizard.settings, maxDelete: '80%' }
    await waitFor(() => expect(api.Synchronization.confirmation).toHaveBeenCalledTimes(calls + 1))
    await waitFor(() => expect(screen.queryByRole('region', { name: /Check these deletions/ })).not.toBeInTheDocument())
    expect(screen.getByText(/This plan deletes 700 items/)).toBeInTheDocument()
    expect(screen.getByRole('button', { name: /Start synchronization/ })).toBeEnabled()
  })

  it('shows that there is nothing to do', async () => {
    api.Synchronization.confirmation.mockResolvedValue(api.plan())
    api.Sessions.current.mockResolvedValue(session())
    api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'B'], withActions: 0 })
    api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
    render(App)
    await screen.findByRole('heading', { level: 1, name: 'Comparison' })
    await fireEvent.click(screen.getByRole('button', { name: 'Synchronize' }))
    api.Synchronization.confirmation.mockResolvedValue(api.plan())
    expect(await screen.findByText(/Nothing to do/)).toBeInTheDocument()
    expect(screen.getByRole('button', { name: /Start synchronization/ })).toBeDisabled()
  })
})

describe('Kept versions and two-way conflicts on the confirmation', () => {
  /** A two-way plan after a run: B's both.txt replaced, one file deleted on A. */
  const twoWayPlan = (over: Partial<Confirmation> = {}): Confirmation =>
    api.plan({
      actions: 3,
      bytes: 100,
      destinations: [
        { node: 'A', copies: 0, creates: 0, deletes: 1, dates: 0, bytes: 0 },
        { node: 'B', copies: 2, creates: 0, deletes: 0, dates: 0, bytes: 100 },
      ],
      deletions: [{ part: 'A', node: 'A', root: '/home/maria/notes', deletes: 1, files: 30, over: false }],
      replaces: 1,
      ...over,
    })

  it('says where replaced and deleted files are kept, and lists the files edited on both sides', async () => {
    await setup(
      twoWayPlan({
        versions: { dir: '.ferry-versions', stamp: '2026-12-05T201500Z', keepDays: 30 },
        conflicts: [
          { path: '/both.txt', winner: 'A', kept: ['/both.conflict-B-20240301-130000.txt'] },
          { path: '/docs/plan.odt', winner: 'B', kept: ['/docs/plan.conflict-A-20240302-080000.odt', '/docs/plan.conflict-C-20240302-070000.odt'] },
        ],
      }),
    )
    const note = await screen.findByTestId('versions-note')
    expect(note).toHaveTextContent(
      'Replaced and deleted files are kept in .ferry-versions/2026-12-05T201500Z/ on each destination; kept versions older than 30 days are removed after the run.',
    )
    expect(screen.queryByText(/Settings can keep them/)).not.toBeInTheDocument()
    const conflicts = screen.getByRole('region', { name: 'Edited on both sides' })
    expect(conflicts).toHaveTextContent('These 2 files were edited on both sides since the last run: the newest edit keeps the name')
    expect(within(conflicts).getAllByRole('listitem').map((li) => li.textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      "/both.txt A's edit keeps the name, the other is kept as both.conflict-B-20240301-130000.txt",
      "/docs/plan.odt B's edit keeps the name, the others are kept as plan.conflict-A-20240302-080000.odt, plan.conflict-C-20240302-070000.odt",
    ])
    // Conflicts and kept versions say what happens; Start is as ready as without them.
    const start = screen.getByRole('button', { name: /Start synchronization/ })
    await waitFor(() => expect(start).toHaveFocus())
  })

  it('keeps versions for ever without a number of days, and a single conflict reads in the singular', async () => {
    await setup(
      twoWayPlan({
        versions: { dir: 'kept', stamp: '2026-12-05T201500Z', keepDays: 0 },
        conflicts: [{ path: '/both.txt', winner: 'A', kept: ['/both.conflict-B-20240301-130000.txt'] }],
      }),
    )
    expect(await screen.findByTestId('versions-note')).toHaveTextContent(
      /^Replaced and deleted files are kept in kept\/2026-12-05T201500Z\/ on each destination\.$/,
    )
    expect(screen.getByRole('region', { name: 'Edited on both sides' })).toHaveTextContent('This file was edited on both sides')
  })

  it('hints that Settings can keep what the plan replaces or deletes, and reads the plan again after a change', async () => {
    const { wizard } = await setup(twoWayPlan())
    const hint = await screen.findByTestId('versions-note')
    expect(hint).toHaveTextContent('Replaced and deleted files are not kept: Settings can keep them in a folder of each data source.')
    expect(screen.queryByRole('region', { name: 'Edited on both sides' })).not.toBeInTheDocument()
    await fireEvent.click(within(hint).getByRole('button', { name: 'Settings…' }))
    expect(await screen.findByRole('dialog', { name: 'Settings' })).toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))

    // Versions kept from now on: the plan is read again, and says where.
    api.Synchronization.confirmation.mockResolvedValue(
      twoWayPlan({ revision: 2, versions: { dir: '.ferry-versions', stamp: '2026-12-05T201700Z', keepDays: 0 } }),
    )
    const calls = api.Synchronization.confirmation.mock.calls.length
    wizard.settings = { ...wizard.settings, versions: '.ferry-versions' }
    await waitFor(() => expect(api.Synchronization.confirmation).toHaveBeenCalledTimes(calls + 1))
    await waitFor(() =>
      expect(screen.getByTestId('versions-note')).toHaveTextContent('kept in .ferry-versions/2026-12-05T201700Z/ on each destination'),
    )
  })

  it('gives no hint when the plan neither replaces nor deletes a file', async () => {
    await setup(
      api.plan({
        actions: 12,
        bytes: 1200,
        destinations: [{ node: 'B', copies: 10, creates: 2, deletes: 0, dates: 0, bytes: 1200 }],
      }),
    )
    await screen.findByRole('table', { name: 'Changes per destination node' })
    expect(screen.queryByTestId('versions-note')).not.toBeInTheDocument()
  })
})

describe('A session with another computer', () => {
  const others = () =>
    session({
      embedded: false,
      serverURL: 'https://ferry.example.org',
      members: [
        { id: 'm1', letter: 'A', status: 'InventoryWaitingForStart', self: true, present: true, nodes: [] },
        {
          id: 'm2',
          letter: 'B',
          status: 'InventoryWaitingForStart',
          self: false,
          present: true,
          nodes: [{ code: 'Ba', machine: 'laptop-b', sources: [{ code: 'Ba1', name: 'photos-backup' }] }],
        },
      ],
    })

  async function withOthers(plan: Confirmation) {
    api.Sessions.current.mockResolvedValue(others())
    api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'Ba'], withActions: 5 })
    api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
    api.Synchronization.confirmation.mockResolvedValue(plan)
    render(App, { props: { wizard: new Wizard() } })
    await screen.findByRole('heading', { level: 1, name: 'Comparison' })
    await fireEvent.click(screen.getByRole('button', { name: 'Synchronize' }))
  }

  it("shows the other computer's folder by name and computer, and says each computer applies its own deletion limit", async () => {
    await withOthers(
      api.plan({
        actions: 12,
        destinations: [{ node: 'Ba', copies: 0, creates: 0, deletes: 12, dates: 0, bytes: 0 }],
        deletions: [{ part: 'Ba', node: 'Ba', root: 'photos-backup', computer: 'laptop-b', deletes: 12, files: 12, over: true }],
        overLimit: true,
      }),
    )
    const warning = await screen.findByRole('region', { name: 'Check these deletions before you start' })
    expect(within(warning).getByRole('listitem')).toHaveTextContent('Deletes 12 of 12 files on Node Ba (photos-backup on laptop-b)')
    expect(screen.getByTestId('limits-note')).toHaveTextContent('Each computer of the session also applies its own deletion limit')
  })

  it("says the other computer applied the actions whose items this computer does not list", async () => {
    await withOthers(api.plan({ actions: 309, destinations: [{ node: 'Ba', copies: 309, creates: 0, deletes: 0, dates: 0, bytes: 0 }] }))
    await screen.findByRole('button', { name: /Start synchronization/ })
    emit('sync:event', { type: 'started', status: status({ totalActions: 309 }) })
    emit('sync:done', status({ totalActions: 309, finishedActions: 309 }, { state: 'ended', endStatus: 'regular' }))
    expect(await screen.findByTestId('outcome')).toHaveTextContent('Synchronization complete')
    expect(screen.getByTestId('done-actions')).toHaveTextContent('309 / 309')
    expect(screen.getByRole('heading', { name: 'Items on this computer' })).toBeInTheDocument()
    expect(screen.getByTestId('done-elsewhere')).toHaveTextContent('The other computer applied 309 actions: see its Ferry for the items.')
    expect(screen.getByText('No item was synchronized on this computer.')).toBeInTheDocument()
  })

  it('sizes the Target column to its labels, and keeps an empty Error column narrow', async () => {
    await withOthers(api.plan({ actions: 2, destinations: [{ node: 'Ba', copies: 2, creates: 0, deletes: 0, dates: 0, bytes: 0 }] }))
    await screen.findByRole('button', { name: /Start synchronization/ })
    emit('sync:event', { type: 'started', status: status({ totalActions: 2 }) })
    const ok = (path: string) => ({ path, op: 'copy', target: 'Ba', ok: true })
    emit('sync:done', status({ totalActions: 2, finishedActions: 2 }, { state: 'ended', endStatus: 'regular', items: [ok('a'), ok('b')] }))
    const grid = await screen.findByRole('grid', { name: 'Item results' })
    const columns = (el: HTMLElement) => el.closest<HTMLElement>('[style*="--columns"]')?.style.getPropertyValue('--columns') ?? ''
    // "Ba" and "Node Ba": 9 characters at least, and an Error column of no more than its header.
    expect(columns(grid)).toBe('96px minmax(0, 3fr) 116px calc(9ch + 40px) 64px')
  })
})
