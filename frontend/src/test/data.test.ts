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

async function setup(mode: 'folders' | 'nodes' = 'nodes') {
  api.Sessions.current.mockResolvedValue(session())
  fakeData()
  const wizard = new Wizard()
  await wizard.init()
  wizard.dataMode = mode
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
    const members = screen.getByRole('complementary', { name: 'Computers' })
    expect(within(members).getByText('Computer A (this one)')).toBeInTheDocument()
    emit(
      'session:changed',
      session({
        members: [
          { id: 'm1', letter: 'A', status: 'InventoryWaitingForStart', self: true, present: true, nodes: [] },
          {
            id: 'm2',
            letter: 'B',
            status: 'InventoryRunning',
            self: false,
            present: true,
            nodes: [{ code: 'Ba', machine: 'laptop', sources: [{ code: 'Ba1', name: 'Photos 2024' }] }],
          },
        ],
      }),
    )
    expect(await within(members).findByText('Computer B')).toBeInTheDocument()
    expect(within(members).getByText('Inventory running')).toBeInTheDocument()
    expect(within(members).getAllByRole('img', { name: 'Connected' })).toHaveLength(2)
    // The other computer's folders, by name.
    expect(within(members).getByRole('list', { name: 'Folders of computer B' })).toHaveTextContent('Ba Photos 2024 on laptop')
  })
})

describe('Data: two folders', () => {
  const compareButton = () => screen.getByRole('button', { name: /Compare folders/ })

  it('copies from one folder to another with the mirror preselected, and creates a missing target', async () => {
    const wizard = await setup('folders')
    api.Rules.usePreset.mockResolvedValue({ mode: 'mirror', text: '', presets: [], errors: [], groups: 1 })
    const from = screen.getByLabelText('Copy from folder')
    await waitFor(() => expect(from).toHaveFocus())
    expect(compareButton()).toHaveAccessibleDescription('Choose the folder to copy from')
    expect(screen.getByRole('radio', { name: /Mirror/ })).toBeChecked()
    expect(screen.queryByText(/Node A/)).not.toBeInTheDocument()

    await fireEvent.input(from, { target: { value: '/home/maria/Photos' } })
    expect(compareButton()).toHaveAccessibleDescription('Choose the folder to copy to')
    api.Data.pickFolder.mockResolvedValue('/media/backup/photos')
    await fireEvent.click(screen.getByRole('button', { name: 'Browse for the folder to copy to' }))
    await waitFor(() => expect(screen.getByLabelText('to folder')).toHaveValue('/media/backup/photos'))
    await waitFor(() => expect(compareButton()).toBeEnabled())

    // The target does not exist yet: Create folder makes it, then the comparison starts.
    const addSource = api.Data.addSource.getMockImplementation()!
    api.Data.addSource.mockImplementation(async (code, path) => {
      if (path === '/media/backup/photos' && api.Data.createFolder.mock.calls.length === 0) throw new Error(`${path} does not exist`)
      return addSource(code, path)
    })
    await fireEvent.click(compareButton())
    const create = await screen.findByRole('button', { name: 'Create folder' })
    expect(screen.getByText(/does not exist yet/)).toBeInTheDocument()
    expect(api.Inventory.start).not.toHaveBeenCalled()
    await fireEvent.click(create)
    await waitFor(() => expect(api.Data.createFolder).toHaveBeenCalledWith('/media/backup/photos'))
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Create folder' })).not.toBeInTheDocument())

    await fireEvent.click(screen.getByRole('radio', { name: /Update/ }))
    await fireEvent.click(compareButton())
    await waitFor(() => expect(api.Inventory.start).toHaveBeenCalled())
    expect(api.Data.addSource).toHaveBeenCalledWith('A', '/home/maria/Photos')
    expect(api.Data.addSource).toHaveBeenLastCalledWith('B', '/media/backup/photos')
    expect(api.Rules.usePreset).toHaveBeenCalledWith('update')
    expect(wizard.step).toBe('inventory')
    expect(wizard.partLabel('A')).toBe('From')
    expect(wizard.partLabel('B')).toBe('To')
  })

  it('keeps nodes and sources under Advanced, and comes back to two folders when they fit', async () => {
    const wizard = await setup('folders')
    await fireEvent.click(screen.getByRole('button', { name: /Advanced: nodes and sources/ }))
    expect(wizard.dataMode).toBe('nodes')
    expect(await screen.findByRole('button', { name: 'Add node' })).toBeInTheDocument()
    expect(wizard.partLabel('A')).toBe('Node A')
    await fireEvent.click(screen.getByRole('button', { name: 'Back to two folders' }))
    expect(await screen.findByLabelText('Copy from folder')).toBeInTheDocument()
  })
})
