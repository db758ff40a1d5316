import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import type { DataNode } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import DataScreen from '../screens/DataScreen.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'
import { session } from './setup'

/** Data services over an in-memory list, as the Go side keeps them. */
function fakeData() {
  let nodes: DataNode[] = []
  api.Data.nodes.mockImplementation(async () => structuredClone(nodes))
  api.Data.addNode.mockImplementation(async () => {
    const node = { code: String.fromCharCode(65 + nodes.length), member: 'm1', sources: [] }
    nodes.push(node)
    return node
  })
  api.Data.removeNode.mockImplementation(async (code) => {
    nodes = nodes.filter((n) => n.code !== code)
  })
  api.Data.addSource.mockImplementation(async (code, path) => {
    if (!path.startsWith('/')) throw new Error(`${path}: no such file or directory`)
    const node = nodes.find((n) => n.code === code)!
    const source = { code: `${code}${node.sources.length + 1}`, path, kind: 'folder' as const }
    node.sources.push(source)
    return source
  })
  api.Data.removeSource.mockImplementation(async (code) => {
    for (const n of nodes) n.sources = n.sources.filter((s) => s.code !== code)
  })
}

async function setup() {
  api.Sessions.current.mockResolvedValue(session())
  fakeData()
  const wizard = new Wizard()
  await wizard.init()
  render(DataScreen, { props: { wizard } })
  return wizard
}

const startButton = () => screen.getByRole('button', { name: /Start inventory/ })

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

describe('Data', () => {
  it('adds nodes and sources, and says why the inventory cannot start until two nodes have one', async () => {
    const wizard = await setup()
    expect(startButton()).toBeDisabled()
    expect(startButton()).toHaveAccessibleDescription('Add a data node to start')
    await waitFor(() => expect(screen.getByRole('button', { name: 'Add node' })).toHaveFocus())

    await fireEvent.click(screen.getByRole('button', { name: 'Add node' }))
    const pathA = await screen.findByLabelText('Path to add to node A')
    await waitFor(() => expect(pathA).toHaveFocus())
    expect(startButton()).toHaveAccessibleDescription('Add a data source to node A')

    // A path that does not exist: the reason, under that node, and nothing added.
    await fireEvent.input(pathA, { target: { value: 'relative/path' } })
    await fireEvent.submit(pathA.closest('form')!)
    expect(await screen.findByRole('alert')).toHaveTextContent('relative/path: no such file or directory')
    expect(pathA).toHaveValue('relative/path')

    await fireEvent.input(pathA, { target: { value: '/home/maria/Photos' } })
    await fireEvent.submit(pathA.closest('form')!)
    const sourcesA = await screen.findByRole('list', { name: 'Sources of node A' })
    expect(await within(sourcesA).findByText('/home/maria/Photos')).toBeInTheDocument()
    expect(within(sourcesA).getByText('A1')).toBeInTheDocument()
    expect(pathA).toHaveValue('')
    expect(startButton()).toHaveAccessibleDescription(/Add a second node/)
    await waitFor(() => expect(screen.getByRole('button', { name: 'Add node' })).toHaveFocus())

    // Node B, its source from the native picker.
    await fireEvent.click(screen.getByRole('button', { name: 'Add node' }))
    await screen.findByLabelText('Path to add to node B')
    expect(startButton()).toHaveAccessibleDescription('Add a data source to node B')
    api.Data.pickFolder.mockResolvedValue('/media/backup')
    await fireEvent.click(screen.getByRole('button', { name: 'Browse for a folder for node B' }))
    await screen.findByText('/media/backup')
    expect(api.Data.addSource).toHaveBeenLastCalledWith('B', '/media/backup')
    await waitFor(() => expect(startButton()).toBeEnabled())
    expect(startButton()).toHaveFocus()

    // A cancelled picker adds nothing.
    api.Data.pickFile.mockResolvedValue('')
    const calls = api.Data.addSource.mock.calls.length
    await fireEvent.click(screen.getByRole('button', { name: 'Browse for a file for node B' }))
    await waitFor(() => expect(api.Data.pickFile).toHaveBeenCalled())
    expect(api.Data.addSource).toHaveBeenCalledTimes(calls)

    await fireEvent.click(startButton())
    await waitFor(() => expect(api.Inventory.start).toHaveBeenCalled())
    expect(wizard.step).toBe('inventory')
  })

  it('removes sources and nodes', async () => {
    await setup()
    await fireEvent.click(screen.getByRole('button', { name: 'Add node' }))
    const path = await screen.findByLabelText('Path to add to node A')
    await fireEvent.input(path, { target: { value: '/a' } })
    await fireEvent.submit(path.closest('form')!)
    await fireEvent.click(await screen.findByRole('button', { name: 'Remove source A1' }))
    expect(await screen.findByText('No data source yet')).toBeInTheDocument()
    expect(api.Data.removeSource).toHaveBeenCalledWith('A1')

    await fireEvent.click(screen.getByRole('button', { name: 'Remove node A' }))
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Node A' })).not.toBeInTheDocument())
    expect(api.Data.removeNode).toHaveBeenCalledWith('A')
  })

  it('lists the members with their letters and statuses as session:changed reports them', async () => {
    await setup()
    const members = screen.getByRole('complementary', { name: 'Members' })
    expect(within(members).getByText('Member A (you)')).toBeInTheDocument()
    emit(
      'session:changed',
      session({
        members: [
          { id: 'm1', letter: 'A', status: 'InventoryWaitingForStart', self: true, present: true },
          { id: 'm2', letter: 'B', status: 'InventoryRunning', self: false, present: true },
        ],
      }),
    )
    expect(await within(members).findByText('Member B')).toBeInTheDocument()
    expect(within(members).getByText('Inventory running')).toBeInTheDocument()
    expect(within(members).getAllByRole('img', { name: 'Connected' })).toHaveLength(2)
  })
})
