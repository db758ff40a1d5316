import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import App from '../App.svelte'
import { formatDate } from '../lib/format'
import type { ProfileInfo, SyncStatus } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'
import { gridHeight, session } from './setup'

const weekly = (over: Partial<ProfileInfo> = {}): ProfileInfo => ({
  name: 'Weekly backup',
  file: '/home/u/.config/ferry/profiles/weekly-backup-c9167358.json',
  nodes: [
    { code: 'A', sources: ['/home/u/Photos'] },
    { code: 'B', sources: ['/media/backup/Photos'] },
  ],
  mode: 'mirror',
  preset: 'mirror',
  hasRules: false,
  members: [],
  maxDelete: '',
  versions: '',
  versionsKeep: 0,
  created: '2026-11-01T10:00:00Z',
  updated: '2026-11-01T10:00:00Z',
  lastRun: { at: '2026-11-29T09:30:00Z', status: 'done', actions: 1234, errors: 0, bytes: 3 * 1024 ** 2 },
  ...over,
})

const broken: ProfileInfo = {
  name: '',
  file: '/home/u/.config/ferry/profiles/broken.json',
  nodes: [],
  mode: '',
  preset: '',
  hasRules: false,
  members: [],
  maxDelete: '',
  versions: '',
  versionsKeep: 0,
  created: '',
  updated: '',
  error: 'profile file /home/u/.config/ferry/profiles/broken.json is damaged',
}

const ended = (): SyncStatus => ({
  state: 'ended',
  orchestration: 'local',
  progress: { totalActions: 2, finishedActions: 2, errorActions: 0, syncedVolume: 10, totalVolume: 10 },
  endStatus: 'regular',
  errors: [],
  items: [],
  omittedItems: 0,
})

beforeAll(() => gridHeight(400))

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

describe('Profiles', () => {
  it('opens at start when profiles exist, with their last run, and the unreadable files', async () => {
    api.Profiles.list.mockResolvedValue([weekly(), weekly({ name: 'Docs', file: '/p/docs.json', lastRun: undefined }), broken])
    render(App)
    expect(await screen.findByRole('heading', { level: 1, name: 'Profiles' })).toBeInTheDocument()
    const list = screen.getByRole('list', { name: 'Saved profiles' })
    const item = within(list).getByRole('listitem', { name: 'Weekly backup' })
    expect(item).toHaveTextContent('A: /home/u/Photos')
    expect(item).toHaveTextContent('B: /media/backup/Photos')
    expect(within(item).getByTestId('last-run')).toHaveTextContent(
      `Done · ${formatDate('2026-11-29T09:30:00Z')} · 1,234 actions · 3.0 MiB`,
    )
    expect(within(within(list).getByRole('listitem', { name: 'Docs' })).getByTestId('last-run')).toHaveTextContent('Never run')
    expect(list).toHaveTextContent('broken.json is damaged')
  })

  it('shows Create and Join without profiles', async () => {
    render(App)
    expect(await screen.findByRole('button', { name: 'Create session' })).toBeInTheDocument()
    expect(screen.queryByRole('heading', { level: 1, name: 'Profiles' })).not.toBeInTheDocument()
  })

  it('starts a new synchronization instead', async () => {
    api.Profiles.list.mockResolvedValue([weekly()])
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: /New synchronization/ }))
    expect(await screen.findByRole('button', { name: 'Create session' })).toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: 'Profiles' }))
    expect(await screen.findByRole('heading', { level: 1, name: 'Profiles' })).toBeInTheDocument()
  })

  it('runs a profile through the inventory and the comparison straight to the confirmation', async () => {
    api.Profiles.list.mockResolvedValue([weekly()])
    api.Sessions.current.mockResolvedValueOnce(null).mockResolvedValue(session())
    api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'B'], withActions: 2 })
    api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
    api.Synchronization.confirmation.mockResolvedValue(
      api.plan({ actions: 2, bytes: 10, destinations: [{ node: 'B', copies: 2, creates: 0, deletes: 0, dates: 0, bytes: 10 }] }),
    )
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run Weekly backup' }))
    expect(api.Profiles.run).toHaveBeenCalledWith('Weekly backup')
    expect(await screen.findByRole('heading', { level: 1, name: 'Inventory' })).toBeInTheDocument()
    emit('inventory:done', {})
    expect(await screen.findByRole('heading', { level: 1, name: 'Synchronize' })).toBeInTheDocument()
    expect(await screen.findByRole('button', { name: /Start synchronization/ })).toBeInTheDocument()
    expect(screen.getByText('Weekly backup: 2 files to copy (10 B). Check, then start.')).toBeInTheDocument()
  })

  it('follows a profile run started from the tray, from any screen', async () => {
    api.Sessions.current.mockResolvedValue(session())
    api.Synchronization.status.mockResolvedValue(ended())
    api.Comparison.summary.mockResolvedValue({ total: 10, parts: ['A', 'B'], withActions: 2 })
    api.Comparison.page.mockResolvedValue({ total: 0, offset: 0, items: [] })
    api.Synchronization.confirmation.mockResolvedValue(api.plan({ actions: 1, bytes: 1 }))
    const wizard = new Wizard()
    render(App, { props: { wizard } })
    expect(await screen.findByRole('heading', { level: 1, name: 'Done' })).toBeInTheDocument()
    emit('profile:run', 'Weekly backup')
    expect(await screen.findByRole('heading', { level: 1, name: 'Inventory' })).toBeInTheDocument()
    expect(wizard.profile).toBe('Weekly backup')
    emit('inventory:done', {})
    expect(await screen.findByRole('heading', { level: 1, name: 'Synchronize' })).toBeInTheDocument()
  })

  it('shows why a profile cannot run, and stays', async () => {
    api.Profiles.list.mockResolvedValue([weekly()])
    api.Profiles.run.mockRejectedValue(new Error('the folder /media/backup/Photos of node B is gone'))
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run Weekly backup' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('/media/backup/Photos of node B is gone')
    expect(screen.getByRole('heading', { level: 1, name: 'Profiles' })).toBeInTheDocument()
  })

  it('edits the name, preset and safety settings of a profile', async () => {
    api.Profiles.list.mockResolvedValue([weekly({ maxDelete: '20%' })])
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Edit Weekly backup' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit “Weekly backup”' })
    expect(within(dialog).getByLabelText('Deletion limit')).toHaveValue('20%')
    expect(within(dialog).getByLabelText('Remove kept versions older than')).toBeDisabled()
    expect(within(dialog).queryByRole('option', { name: 'Its rules file alone' })).not.toBeInTheDocument()
    await fireEvent.input(within(dialog).getByLabelText('Name'), { target: { value: ' Photos ' } })
    await fireEvent.change(within(dialog).getByLabelText('Rules'), { target: { value: 'update' } })
    await fireEvent.input(within(dialog).getByLabelText('Keep replaced and deleted files in'), { target: { value: '.ferry-versions' } })
    await fireEvent.input(within(dialog).getByLabelText('Remove kept versions older than'), { target: { value: '30' } })
    api.Profiles.list.mockResolvedValue([weekly({ name: 'Photos', preset: 'update', mode: 'update', maxDelete: '20%', versions: '.ferry-versions', versionsKeep: 30 })])
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(api.Profiles.edit).toHaveBeenCalledWith('Weekly backup', {
      name: 'Photos',
      preset: 'update',
      maxDelete: '20%',
      versions: '.ferry-versions',
      versionsKeep: 30,
    })
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    const item = screen.getByRole('listitem', { name: 'Photos' })
    expect(item).toHaveTextContent('deletion limit 20% · versions kept in .ferry-versions for 30 days')
  })

  it('keeps the Edit dialog open with the reason when the profile cannot be saved', async () => {
    api.Profiles.list.mockResolvedValue([weekly()])
    api.Profiles.edit.mockRejectedValue(new Error('profile "Weekly backup": max delete: "lots" is no limit'))
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Edit Weekly backup' }))
    const dialog = screen.getByRole('dialog', { name: 'Edit “Weekly backup”' })
    await fireEvent.input(within(dialog).getByLabelText('Deletion limit'), { target: { value: 'lots' } })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('is no limit')
  })

  it('opens a profile in the wizard to change its folders', async () => {
    api.Profiles.list.mockResolvedValue([weekly()])
    api.Sessions.current.mockResolvedValueOnce(null).mockResolvedValue(session())
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Edit Weekly backup' }))
    await fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: /Change folders/ }))
    expect(api.Profiles.open).toHaveBeenCalledWith('Weekly backup')
    expect(await screen.findByRole('heading', { level: 1, name: 'Data' })).toBeInTheDocument()
    expect(api.Inventory.start).not.toHaveBeenCalled()
  })

  it('deletes a profile only once confirmed', async () => {
    api.Profiles.list.mockResolvedValue([weekly(), weekly({ name: 'Docs', file: '/p/docs.json' })])
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Delete Docs' }))
    const dialog = screen.getByRole('alertdialog', { name: 'Delete the profile?' })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep it' }))
    expect(api.Profiles.delete).not.toHaveBeenCalled()

    await fireEvent.click(screen.getByRole('button', { name: 'Delete Docs' }))
    api.Profiles.list.mockResolvedValue([weekly()])
    await fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Delete' }))
    expect(api.Profiles.delete).toHaveBeenCalledWith('Docs')
    await waitFor(() => expect(screen.queryByRole('listitem', { name: 'Docs' })).not.toBeInTheDocument())
    expect(screen.getByRole('listitem', { name: 'Weekly backup' })).toBeInTheDocument()
  })

  it('saves the run as a profile from Done', async () => {
    api.Sessions.current.mockResolvedValue(session())
    api.Synchronization.status.mockResolvedValue(ended())
    api.Profiles.save.mockResolvedValue(weekly())
    const wizard = new Wizard()
    render(App, { props: { wizard } })
    expect(await screen.findByRole('heading', { level: 1, name: 'Done' })).toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: /Save as profile/ }))
    const dialog = screen.getByRole('dialog', { name: 'Save as profile' })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Give the profile a name')
    expect(api.Profiles.save).not.toHaveBeenCalled()

    await fireEvent.input(within(dialog).getByLabelText('Name'), { target: { value: ' Weekly backup ' } })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(api.Profiles.save).toHaveBeenCalledWith('Weekly backup')
    expect(await screen.findByRole('button', { name: 'Saved as “Weekly backup”' })).toBeInTheDocument()
    expect(wizard.profile).toBe('Weekly backup')
  })
})

describe('Shared profiles', () => {
  const shared = (over: Partial<ProfileInfo> = {}) =>
    weekly({ nodes: [{ code: 'Aa', sources: ['/home/u/Photos'] }], members: ['laptop-b'], ...over })

  it('lists a shared profile with its members', async () => {
    api.Profiles.list.mockResolvedValue([shared()])
    render(App)
    const item = await screen.findByRole('listitem', { name: 'Weekly backup' })
    expect(within(item).getByRole('heading', { level: 2 })).toHaveTextContent('Weekly backup with laptop-b')
  })

  it('waits for the members of a shared profile run, then goes on to the inventory', async () => {
    api.Profiles.list.mockResolvedValue([shared()])
    api.Sessions.current.mockResolvedValueOnce(null).mockResolvedValue(session())
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run Weekly backup' }))
    emit('profile:run', 'Weekly backup')
    emit('profile:waiting', { profile: 'Weekly backup', members: [{ name: 'laptop-b', joined: false }] })
    expect(await screen.findByRole('heading', { level: 1, name: 'Waiting for laptop-b…' })).toBeInTheDocument()
    expect(within(screen.getByRole('list', { name: 'Members' })).getByText('Waiting…')).toBeInTheDocument()
    emit('profile:waiting', { profile: 'Weekly backup', members: [{ name: 'laptop-b', joined: true }] })
    expect(await screen.findByRole('heading', { level: 1, name: 'Inventory' })).toBeInTheDocument()
  })

  it('cancels the wait: the session and its invitation go', async () => {
    api.Profiles.list.mockResolvedValue([shared()])
    api.Sessions.current.mockResolvedValueOnce(null).mockResolvedValue(session())
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Run Weekly backup' }))
    emit('profile:run', 'Weekly backup')
    emit('profile:waiting', { profile: 'Weekly backup', members: [{ name: 'laptop-b', joined: false }] })
    await fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }))
    expect(api.Sessions.quit).toHaveBeenCalled()
    expect(await screen.findByRole('heading', { level: 1, name: 'Profiles' })).toBeInTheDocument()
  })

  it('shows that a member waits on its profile, and joins it', async () => {
    api.Profiles.list.mockResolvedValue([shared(), weekly({ name: 'Docs', file: '/p/docs.json' })])
    api.Profiles.invitations.mockResolvedValue([{ profile: 'Weekly backup', from: 'laptop-a' }])
    api.Sessions.current.mockResolvedValueOnce(null).mockResolvedValue(session())
    render(App)
    const item = await screen.findByRole('listitem', { name: 'Weekly backup' })
    expect(await within(item).findByRole('status', { name: 'laptop-a is waiting for you' })).toHaveTextContent(
      'laptop-a is waiting for you',
    )
    expect(within(screen.getByRole('listitem', { name: 'Docs' })).queryByRole('status')).not.toBeInTheDocument()
    await fireEvent.click(within(item).getByRole('button', { name: 'Join Weekly backup' }))
    expect(api.Profiles.join).toHaveBeenCalledWith('Weekly backup')
    expect(await screen.findByRole('heading', { level: 1, name: 'Inventory' })).toBeInTheDocument()
    expect(api.Profiles.run).not.toHaveBeenCalled()
  })

  it('says why an invitation cannot be joined, and lists it no more', async () => {
    api.Profiles.list.mockResolvedValue([shared()])
    api.Profiles.invitations.mockResolvedValueOnce([{ profile: 'Weekly backup', from: 'laptop-a' }]).mockResolvedValue([])
    const reason = 'laptop-a invited this computer to run "Weekly backup", but its session no longer lets anyone in'
    api.Profiles.join.mockRejectedValue(new Error(reason))
    render(App)
    const item = await screen.findByRole('listitem', { name: 'Weekly backup' })
    await fireEvent.click(await within(item).findByRole('button', { name: 'Join Weekly backup' }))
    expect(await within(item).findByRole('alert')).toHaveTextContent(reason)
    expect(within(item).queryByRole('status', { name: 'laptop-a is waiting for you' })).not.toBeInTheDocument()
    expect(screen.getByRole('heading', { level: 1, name: 'Profiles' })).toBeInTheDocument()
  })

  it('shows an invitation on the Start screen too, and stops looking once a session is open', async () => {
    api.Profiles.invitations.mockResolvedValue([{ profile: 'Weekly backup', from: 'laptop-a' }])
    api.Sessions.create.mockResolvedValue(session())
    const wizard = new Wizard()
    render(App, { props: { wizard } })
    expect(await screen.findByText('to run “Weekly backup”', { exact: false })).toBeInTheDocument()
    await wizard.createSession()
    await waitFor(() => expect(screen.queryByRole('status', { name: 'laptop-a is waiting for you' })).not.toBeInTheDocument())
    const calls = api.Profiles.invitations.mock.calls.length
    await wizard.findInvitations()
    expect(api.Profiles.invitations.mock.calls.length).toBe(calls)
  })
})
