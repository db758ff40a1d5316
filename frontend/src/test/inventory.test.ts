import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import { Wizard } from '../lib/wizard.svelte'
import InventoryScreen from '../screens/InventoryScreen.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'
import { session } from './setup'

async function setup() {
  api.Sessions.current.mockResolvedValue(session())
  api.Data.nodes.mockResolvedValue([
    { code: 'A', member: 'm1', sources: [{ code: 'A1', path: '/a', kind: 'folder' }] },
    { code: 'B', member: 'm1', sources: [{ code: 'B1', path: '/b', kind: 'folder' }] },
  ])
  const wizard = new Wizard()
  await wizard.init()
  await wizard.startInventory()
  render(InventoryScreen, { props: { wizard } })
  return wizard
}

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

describe('Inventory', () => {
  it('shows each node’s progress from inventory:progress, then opens Compare on inventory:done', async () => {
    const wizard = await setup()
    const compare = screen.getByRole('button', { name: /Compare/ })
    expect(compare).toBeDisabled()
    expect(screen.getByTestId('progress-A')).toHaveTextContent('Waiting…')

    emit('inventory:progress', [
      { node: 'A', files: 12345, dirs: 321, bytes: 1.5 * 1024 ** 3, skipped: { hidden: 12, inaccessible: 2, 'io-error': 0 }, done: false },
      { node: 'B', files: 999, dirs: 10, bytes: 2048, skipped: null, done: true },
    ])
    const a = await screen.findByTestId('progress-A')
    await waitFor(() => expect(a).toHaveTextContent('12,345'))
    expect(a).toHaveTextContent('321')
    expect(a).toHaveTextContent('1.5 GiB')
    expect(a).toHaveTextContent('Skipped: 12 hidden, 2 unreadable')
    expect(a).toHaveTextContent('Scanning…')
    const b = screen.getByTestId('progress-B')
    expect(b).toHaveTextContent('2.0 KiB')
    expect(b).toHaveTextContent('Done')
    expect(b).not.toHaveTextContent('Skipped')
    expect(compare).toBeDisabled()

    emit('inventory:done', {})
    await waitFor(() => expect(compare).toBeEnabled())
    expect(compare).toHaveFocus()
    expect(screen.getByRole('status')).toHaveTextContent('Inventory complete: 13,344 files')

    api.Comparison.summary.mockResolvedValue({ total: 5, parts: ['A', 'B'], withActions: 1 })
    await fireEvent.click(compare)
    await waitFor(() => expect(wizard.step).toBe('comparison'))
    expect(wizard.summary?.total).toBe(5)
  })

  it('shows a failed inventory with its reason and offers to retry', async () => {
    await setup()
    emit('inventory:progress', [
      { node: 'A', files: 10, dirs: 1, bytes: 10, skipped: {}, done: true, error: 'permission denied: /a/private' },
    ])
    emit('inventory:done', { error: 'node A could not be read' })
    const alerts = await screen.findAllByRole('alert')
    expect(alerts.map((a) => a.textContent).join(' ')).toContain('node A could not be read')
    expect(within(screen.getByTestId('progress-A')).getByRole('alert')).toHaveTextContent('permission denied: /a/private')
    expect(screen.queryByRole('button', { name: /Compare/ })).not.toBeInTheDocument()
    api.Inventory.start.mockClear()
    await fireEvent.click(screen.getByRole('button', { name: /Retry inventory/ }))
    await waitFor(() => expect(api.Inventory.start).toHaveBeenCalledTimes(1))
    // A fresh run: the failure is gone and Compare waits for the new end.
    const compare = await screen.findByRole('button', { name: /Compare/ })
    expect(compare).toBeDisabled()
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(screen.getByTestId('progress-A')).toHaveTextContent('Waiting…')
  })
})
