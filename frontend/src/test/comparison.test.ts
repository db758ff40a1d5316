import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import type { ComparisonPage } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import ComparisonScreen from '../screens/ComparisonScreen.svelte'
import * as api from './fakeApi'
import { resetRuntime } from './fakeRuntime'
import { deferred, gridHeight, item, pager, scrollTo } from './setup'

const TOTAL = 100_000
const ROW = 46
// 460 px tall: 34 px of header, room for 9 whole rows and part of a tenth.
const HEIGHT = 460

function setup() {
  const wizard = new Wizard()
  wizard.phase = 'compared'
  wizard.step = 'comparison'
  wizard.summary = { total: TOTAL, parts: ['A', 'B'], withActions: 33_334 }
  render(ComparisonScreen, { props: { wizard } })
  return wizard
}

/** The data rows in the document (the header row excluded). */
const dataRows = (grid: HTMLElement) => within(grid).getAllByRole('row').filter((r) => r.getAttribute('aria-rowindex') !== '1')
const activeRow = (grid: HTMLElement) => document.getElementById(grid.getAttribute('aria-activedescendant') ?? '')

beforeAll(() => gridHeight(HEIGHT))

beforeEach(() => {
  api.resetApi()
  resetRuntime()
  api.Comparison.page.mockImplementation(pager(TOTAL))
})

describe('Comparison table', () => {
  it('renders only the rows in view for 100,000 items and fetches pages by offset', async () => {
    setup()
    const grid = await screen.findByRole('grid', { name: 'Comparison items' })
    await within(grid).findByText('file-000000.txt')
    expect(grid).toHaveAttribute('aria-rowcount', String(TOTAL + 1))
    // 10 rows in view, 1 partly below, 6 of overscan: never the whole list.
    expect(dataRows(grid).length).toBeLessThanOrEqual(17)
    expect(dataRows(grid).length).toBeGreaterThanOrEqual(10)
    expect(api.Comparison.page).toHaveBeenCalledTimes(1)
    expect(api.Comparison.page).toHaveBeenCalledWith('', 0, 200)

    // The middle of the list: its pages are fetched by offset; placeholders stand in meanwhile.
    const held = deferred<void>()
    api.Comparison.page.mockImplementation(async (filter, offset, limit) => {
      await held.promise
      return pager(TOTAL)(filter, offset, limit)
    })
    scrollTo(grid, 50_000 * ROW)
    await waitFor(() => expect(api.Comparison.page).toHaveBeenCalledWith('', 49_800, 200))
    expect(api.Comparison.page).toHaveBeenCalledWith('', 50_000, 200)
    expect(api.Comparison.page).toHaveBeenCalledTimes(3)
    const busy = dataRows(grid).filter((r) => r.getAttribute('aria-busy') === 'true')
    expect(busy.length).toBe(dataRows(grid).length)
    expect(dataRows(grid)[0]).toHaveAttribute('aria-rowindex', String(49_994 + 2))

    held.resolve()
    expect(await within(grid).findByText('file-050000.txt')).toBeInTheDocument()
    expect(dataRows(grid).some((r) => r.getAttribute('aria-busy'))).toBe(false)
    // 6 rows of overscan above now, too.
    expect(dataRows(grid).length).toBeLessThanOrEqual(23)
    // Rows carry a part's size, date and group letters, and the planned actions.
    const row = within(grid).getByText('file-050002.txt').closest('[role="row"]') as HTMLElement
    expect(row).toHaveTextContent('49.8 KiB') // 1000 + 50002 bytes
    expect(within(row).getAllByRole('img', { name: 'Content group' })).toHaveLength(2)
    expect(within(row).getAllByRole('img', { name: 'Date group' })).toHaveLength(2)
    const copied = within(grid).getByText('file-050001.txt').closest('[role="row"]') as HTMLElement
    expect(copied).toHaveTextContent('Absent')
    expect(copied).toHaveTextContent('copy A → B')
  })

  it('moves through the rows with the keyboard and opens the actions of the active one', async () => {
    setup()
    const grid = await screen.findByRole('grid', { name: 'Comparison items' })
    await within(grid).findByText('file-000000.txt')
    grid.focus()
    await tick()
    // Focus alone picks no row, so Tab goes on past the table.
    expect(grid).not.toHaveAttribute('aria-activedescendant')
    expect(screen.queryByRole('button', { name: /Add action…/ })).not.toBeInTheDocument()
    await fireEvent.keyDown(grid, { key: 'ArrowDown' })
    expect(activeRow(grid)).toHaveTextContent('file-000000.txt')
    await fireEvent.keyDown(grid, { key: 'ArrowDown' })
    await fireEvent.keyDown(grid, { key: 'ArrowDown' })
    expect(activeRow(grid)).toHaveTextContent('file-000002.txt')
    expect(activeRow(grid)).toHaveAttribute('aria-selected', 'true')
    await fireEvent.keyDown(grid, { key: 'ArrowUp' })
    expect(activeRow(grid)).toHaveTextContent('file-000001.txt')
    // Page Down moves by a screenful less one row.
    await fireEvent.keyDown(grid, { key: 'PageDown' })
    expect(activeRow(grid)).toHaveTextContent('file-000009.txt')

    // End: the last row, scrolled into view, its page fetched.
    await fireEvent.keyDown(grid, { key: 'End' })
    expect(grid.scrollTop).toBe(TOTAL * ROW - (HEIGHT - 34))
    await waitFor(() => expect(api.Comparison.page).toHaveBeenCalledWith('', 99_800, 200))
    await waitFor(() => expect(activeRow(grid)).toHaveTextContent('file-099999.txt'))
    await fireEvent.keyDown(grid, { key: 'Home' })
    expect(grid.scrollTop).toBe(0)
    await waitFor(() => expect(activeRow(grid)).toHaveTextContent('file-000000.txt'))

    // Enter opens the actions dialog; Escape closes it and gives the focus back.
    await fireEvent.keyDown(grid, { key: 'Enter' })
    const dialog = await screen.findByRole('dialog', { name: 'Actions on file-000000.txt' })
    await fireEvent.keyDown(dialog, { key: 'Escape' })
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(grid).toHaveFocus()
  })

  it('adds a targeted action on the selected item and removes targeted actions', async () => {
    const wizard = setup()
    const grid = await screen.findByRole('grid', { name: 'Comparison items' })
    await fireEvent.click(await within(grid).findByText('file-000001.txt'))
    expect(screen.getByRole('button', { name: 'Remove targeted actions' })).toBeDisabled()
    await fireEvent.click(screen.getByRole('button', { name: /Add action…/ }))
    const dialog = await screen.findByRole('dialog', { name: 'Actions on file-000001.txt' })
    expect(within(dialog).getByLabelText('Operation')).toHaveFocus()
    expect(within(dialog).getByLabelText('Operation')).toHaveValue('copy')
    expect(within(dialog).getByLabelText('Source')).toHaveValue('A')
    expect(within(dialog).getByRole('checkbox', { name: 'Target B' })).toBeChecked()

    // Nothing targeted: a clear error, nothing sent.
    await fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Target B' }))
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Add action' }))
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Choose at least one target part')
    expect(api.Comparison.addTargetedAction).not.toHaveBeenCalled()

    await fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Target B' }))
    api.Comparison.addTargetedAction.mockResolvedValue({ total: TOTAL, parts: ['A', 'B'], withActions: 33_335 })
    const targetedPage = async (filter: string, offset: number, limit: number): Promise<ComparisonPage> => {
      const page = await pager(TOTAL)(filter, offset, limit)
      if (offset === 0) page.items[1].actions = [{ op: 'copy', source: 'A', targets: ['B'], targeted: true }]
      return page
    }
    api.Comparison.page.mockImplementation(targetedPage)
    const before = api.Comparison.page.mock.calls.length
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Add action' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(api.Comparison.addTargetedAction).toHaveBeenCalledWith('dir0/file-000001.txt', 'copy', 'A', ['B'])
    expect(wizard.summary?.withActions).toBe(33_335)
    // The rows in view are fetched again and show the targeted action.
    expect(api.Comparison.page.mock.calls.length).toBeGreaterThan(before)
    const row = within(grid).getByText('file-000001.txt').closest('[role="row"]') as HTMLElement
    await waitFor(() => expect(within(row).getByRole('img', { name: 'Targeted' })).toBeInTheDocument())

    api.Comparison.removeTargetedActions.mockResolvedValue({ total: TOTAL, parts: ['A', 'B'], withActions: 33_334 })
    api.Comparison.page.mockImplementation(pager(TOTAL))
    const remove = screen.getByRole('button', { name: 'Remove targeted actions' })
    await waitFor(() => expect(remove).toBeEnabled())
    await fireEvent.click(remove)
    await waitFor(() => expect(api.Comparison.removeTargetedActions).toHaveBeenCalledWith('dir0/file-000001.txt'))
    await waitFor(() => expect(within(row).queryByRole('img', { name: 'Targeted' })).not.toBeInTheDocument())
  })

  it('filters after a pause, counts the matches, and shows a malformed filter’s error where it is', async () => {
    api.Comparison.page.mockImplementation(async (filter, offset, limit) => {
      if (filter === 'only:B') return { ...(await pager(10)(filter, offset, limit)), total: 10 }
      if (filter.startsWith('bad')) return { total: 0, offset, items: [], filterError: { pos: 0, end: 3, msg: 'unknown keyword "bad"' } }
      return pager(TOTAL)(filter, offset, limit)
    })
    setup()
    const box = screen.getByRole('searchbox', { name: 'Filter items' })
    await waitFor(() => expect(box).toHaveFocus())
    await screen.findByText('file-000000.txt')
    for (const text of ['o', 'on', 'only', 'only:', 'only:B']) await fireEvent.input(box, { target: { value: text } })
    await waitFor(() => expect(api.Comparison.page).toHaveBeenCalledWith('only:B', 0, 200))
    // Typing did not send every keystroke.
    expect(api.Comparison.page.mock.calls.map((c) => c[0])).toEqual(['', 'only:B'])
    expect(await screen.findByText(/of 100,000 items match/)).toHaveTextContent('10 of 100,000 items match')
    const grid = screen.getByRole('grid', { name: 'Comparison items' })
    expect(grid).toHaveAttribute('aria-rowcount', '11')

    await fireEvent.input(box, { target: { value: 'bad:x' } })
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('unknown keyword "bad"')
    expect(alert.querySelector('mark')).toHaveTextContent('bad')
    expect(box).toHaveAttribute('aria-invalid', 'true')
    // The last good result stays.
    expect(screen.getByRole('grid', { name: 'Comparison items' })).toHaveAttribute('aria-rowcount', '11')

    // Enter applies at once and moves to the results.
    await fireEvent.input(box, { target: { value: '' } })
    await fireEvent.keyDown(box, { key: 'Enter' })
    await waitFor(() => expect(screen.getByRole('grid', { name: 'Comparison items' })).toHaveFocus())
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(screen.getByText(/items ·/)).toHaveTextContent('100,000 items')
  })

  it('reports the first render and the scroll frame times when diagnostics are on', async () => {
    api.Diagnostics.enabled.mockResolvedValue(true)
    setup()
    const grid = await screen.findByRole('grid', { name: 'Comparison items' })
    await waitFor(() => expect(api.Diagnostics.report).toHaveBeenCalledWith('comparison-first-render', expect.any(String)))
    const first = JSON.parse(api.Diagnostics.report.mock.calls[0][1])
    expect(first.total).toBe(TOTAL)
    expect(first.rows).toBeGreaterThanOrEqual(10)
    expect(first.ms).toBeGreaterThanOrEqual(0)

    for (let k = 1; k <= 6; k++) {
      scrollTo(grid, k * 1000)
      await new Promise((r) => requestAnimationFrame(r))
    }
    await waitFor(() => expect(api.Diagnostics.report).toHaveBeenCalledWith('comparison-scroll', expect.any(String)), {
      timeout: 3000,
    })
    const scroll = JSON.parse(api.Diagnostics.report.mock.calls.find((c) => c[0] === 'comparison-scroll')![1])
    expect(scroll.count).toBeGreaterThanOrEqual(5)
    expect(scroll.p50).toBeGreaterThan(0)
    expect(scroll.max).toBeGreaterThanOrEqual(scroll.p95)
    expect(scroll.total).toBe(TOTAL)
    expect(scroll.end).toBe('idle')

    // Leaving the table ends a measurement at once, even an empty one.
    const scrolls = () => api.Diagnostics.report.mock.calls.filter((c) => c[0] === 'comparison-scroll')
    grid.focus()
    screen.getByRole('searchbox', { name: 'Filter items' }).focus()
    await waitFor(() => expect(scrolls()).toHaveLength(2))
    expect(JSON.parse(scrolls()[1][1])).toMatchObject({ count: 0, end: 'leave', total: TOTAL })
  })

  it('measures nothing when diagnostics are off', async () => {
    setup()
    const grid = await screen.findByRole('grid', { name: 'Comparison items' })
    await within(grid).findByText('file-000000.txt')
    scrollTo(grid, 2000)
    await waitFor(() => expect(api.Diagnostics.enabled).toHaveBeenCalled())
    await new Promise((r) => setTimeout(r, 50))
    expect(api.Diagnostics.report).not.toHaveBeenCalled()
  })
})

describe('item helper', () => {
  it('makes the rows the tests read', () => {
    expect(item(7).path).toBe('dir0/file-000007.txt')
  })
})
