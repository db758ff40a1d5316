import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import App from '../App.svelte'
import { Wizard } from '../lib/wizard.svelte'
import * as api from './fakeApi'
import { ClipboardSetText, emit, resetRuntime } from './fakeRuntime'
import { session } from './setup'

beforeEach(() => {
  api.resetApi()
  resetRuntime()
  document.documentElement.removeAttribute('data-theme')
})

describe('Start', () => {
  it('creates a session, and shows its id and password, each with a working Copy button, once another computer is invited', async () => {
    api.Sessions.create.mockResolvedValue(session())
    render(App)
    const create = await screen.findByRole('button', { name: 'Create session' })
    await waitFor(() => expect(create).toHaveFocus())
    await fireEvent.click(create)

    // For this computer alone, nothing to share.
    await waitFor(() => expect(screen.getByRole('button', { name: /Continue/ })).toHaveFocus())
    expect(screen.queryByTestId('session-id')).not.toBeInTheDocument()
    expect(screen.queryByText('amber-tide-6142')).not.toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: /Invite another computer/ }))

    expect(await screen.findByTestId('session-id')).toHaveTextContent('123abc456')
    expect(screen.getByTestId('session-password')).toHaveTextContent('amber-tide-6142')
    expect(screen.getByText('Built-in server on this computer')).toBeInTheDocument()
    // The built-in server listens on this computer only: said, with the way to another one.
    expect(screen.getByTestId('local-server')).toHaveTextContent('Other computers cannot reach the server built into Ferry')

    await fireEvent.click(screen.getByRole('button', { name: 'Copy session id' }))
    expect(ClipboardSetText).toHaveBeenLastCalledWith('123abc456')
    expect(await screen.findByText('Session id copied')).toBeInTheDocument()
    await fireEvent.click(screen.getByRole('button', { name: 'Copy password' }))
    expect(ClipboardSetText).toHaveBeenLastCalledWith('amber-tide-6142')

    // The Data step is open now; Continue goes there.
    await fireEvent.click(screen.getByRole('button', { name: /Continue/ }))
    expect(await screen.findByRole('heading', { level: 1, name: 'Data' })).toBeInTheDocument()
  })

  it('says which server a remote session is on', async () => {
    api.Sessions.create.mockResolvedValue(session({ embedded: false, serverURL: 'https://ferry.example.org' }))
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Create session' }))
    await fireEvent.click(await screen.findByRole('button', { name: /Invite another computer/ }))
    expect(await screen.findByText('Remote server')).toBeInTheDocument()
    expect(screen.getByText('https://ferry.example.org')).toBeInTheDocument()
    expect(screen.queryByTestId('local-server')).not.toBeInTheDocument()
  })

  it('warns that a remote session server on a loopback address is out of reach for others', async () => {
    api.Sessions.create.mockResolvedValue(session({ embedded: false, serverURL: 'http://127.0.0.1:7420' }))
    render(App)
    await fireEvent.click(await screen.findByRole('button', { name: 'Create session' }))
    await fireEvent.click(await screen.findByRole('button', { name: /Invite another computer/ }))
    expect(await screen.findByTestId('local-server')).toHaveTextContent(
      'Other computers cannot reach this session server: http://127.0.0.1:7420 names this computer only',
    )
  })

  it('offers the built-in server when the session server of the settings cannot be reached', async () => {
    api.Settings.get.mockResolvedValue({ serverURL: 'http://10.0.0.9:7420', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
    api.Sessions.create.mockRejectedValueOnce(
      new Error('the session server http://10.0.0.9:7420 cannot be reached: check the address in Settings, or use the built-in server for folders on this computer'),
    )
    api.Sessions.create.mockResolvedValueOnce(session())
    render(App)
    expect(await screen.findByTestId('create-server')).toHaveTextContent('http://10.0.0.9:7420')
    await fireEvent.click(screen.getByRole('button', { name: 'Create session' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('cannot be reached')
    await fireEvent.click(screen.getByRole('button', { name: 'Use the built-in server' }))
    await waitFor(() => expect(api.Sessions.create).toHaveBeenCalledTimes(2))
    expect(api.Settings.save).toHaveBeenCalledWith(expect.objectContaining({ serverURL: '' }))
    expect(await screen.findByRole('heading', { level: 1, name: 'Session ready' })).toBeInTheDocument()
  })

  it('joins with an id and a password, and shows why a join failed', async () => {
    api.Sessions.join.mockRejectedValueOnce(new Error('wrong session id or password'))
    api.Sessions.join.mockResolvedValueOnce(
      session({
        id: '999zzz111',
        password: 'pw-1',
        members: [
          { id: 'm0', letter: 'A', status: 'InventoryWaitingForStart', self: false, present: true, nodes: [] },
          { id: 'm1', letter: 'B', status: 'InventoryWaitingForStart', self: true, present: true, nodes: [] },
        ],
      }),
    )
    render(App)
    const join = await screen.findByRole('button', { name: 'Join session' })
    await fireEvent.click(join)
    expect(await screen.findByRole('alert')).toHaveTextContent('Enter the session id')
    expect(api.Sessions.join).not.toHaveBeenCalled()

    await fireEvent.input(screen.getByLabelText('Session id'), { target: { value: ' 999zzz111 ' } })
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'pw-1' } })
    await fireEvent.click(join)
    expect(await screen.findByRole('alert')).toHaveTextContent('wrong session id or password')
    await fireEvent.click(join)
    expect(await screen.findByTestId('session-id')).toHaveTextContent('999zzz111')
    expect(api.Sessions.join).toHaveBeenLastCalledWith('999zzz111', 'pw-1')
  })

  it('restores an open session after the window reloads', async () => {
    api.Sessions.current.mockResolvedValue(session())
    render(App)
    expect(await screen.findByRole('heading', { level: 1, name: 'Data' })).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Start' })).toBeEnabled()
    expect(screen.getByRole('button', { name: 'Start' })).not.toHaveAttribute('aria-current')
    expect(screen.getByRole('button', { name: 'Data' })).toHaveAttribute('aria-current', 'step')
    expect(screen.getByRole('button', { name: /^Comparison/ })).toBeDisabled()
  })
})

describe('Quit', () => {
  it('starts the next session empty after Quit session, with step marks only for what was done', async () => {
    api.Sessions.create.mockResolvedValue(session())
    const wizard = new Wizard()
    wizard.session = session()
    wizard.phase = 'synced'
    wizard.nodes = [{ code: 'A', member: 'A', sources: [{ code: 'A1', path: '/a', kind: 'folder' }] }]
    wizard.summary = { total: 3, parts: ['A', 'B'], withActions: 1 }
    wizard.dataMode = 'nodes'
    wizard.preset = 'two-way'
    wizard.step = 'done'
    await wizard.quitSession()
    await wizard.createSession()
    expect(wizard.nodes).toEqual([])
    expect(wizard.summary).toBeNull()
    expect(wizard.sync).toBeNull()
    expect(wizard.dataMode).toBe('folders')
    expect(wizard.preset).toBe('mirror')
    expect(wizard.phase).toBe('session')
    expect(wizard.completed('comparison')).toBe(false)
    expect(wizard.completed('rules')).toBe(false)
    // A step's mark needs the step visited, not only the phase past it.
    wizard.phase = 'synced'
    expect(wizard.completed('rules')).toBe(false)
    wizard.step = 'rules'
    expect(wizard.completed('rules')).toBe(true)
  })

  it('quits on Ctrl+Q, and asks first during a synchronization, also when the window is closed', async () => {
    const wizard = new Wizard()
    render(App, { props: { wizard } })
    await screen.findByRole('button', { name: 'Create session' })
    await fireEvent.keyDown(window, { key: 'q', ctrlKey: true })
    await waitFor(() => expect(api.Window.quit).toHaveBeenCalledTimes(1))

    wizard.phase = 'syncing'
    await fireEvent.keyDown(window, { key: 'q', ctrlKey: true })
    const ask = await screen.findByRole('alertdialog', { name: 'Abort the synchronization and quit?' })
    expect(api.Window.quit).toHaveBeenCalledTimes(1)
    await fireEvent.click(screen.getByRole('button', { name: 'Keep running' }))
    await waitFor(() => expect(ask).not.toBeInTheDocument())

    emit('window:close-requested', {})
    await screen.findByRole('alertdialog', { name: 'Abort the synchronization and quit?' })
    await fireEvent.click(screen.getByRole('button', { name: 'Abort and quit' }))
    await waitFor(() => expect(api.Window.quit).toHaveBeenCalledTimes(2))
  })
})

describe('Settings and theme', () => {
  it('applies the saved theme, previews a choice, saves it, and reverts on Cancel', async () => {
    api.Settings.get.mockResolvedValue({ serverURL: '', theme: 'dark', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
    render(App)
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe('dark'))

    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    const dialog = await screen.findByRole('dialog', { name: 'Settings' })
    expect(screen.getByLabelText('Session server')).toHaveFocus()
    const about = screen.getByRole('region', { name: 'About' })
    await waitFor(() => expect(about).toHaveTextContent('Ferry 1.2.3'))
    await fireEvent.click(screen.getByRole('radio', { name: 'Light' }))
    expect(document.documentElement.dataset.theme).toBe('light')

    // Escape closes without saving: back to dark.
    await fireEvent.keyDown(dialog, { key: 'Escape' })
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    expect(document.documentElement.dataset.theme).toBe('dark')
    expect(api.Settings.save).not.toHaveBeenCalled()

    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    await fireEvent.click(await screen.findByRole('radio', { name: 'System' }))
    expect(document.documentElement.dataset.theme).toBeUndefined()
    await fireEvent.input(screen.getByLabelText('Session server'), { target: { value: ' https://ferry.example.org ' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(api.Settings.save).toHaveBeenCalledWith({ serverURL: 'https://ferry.example.org', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
    expect(document.documentElement.dataset.theme).toBeUndefined()
    expect(screen.getByTestId('create-server')).toHaveTextContent('https://ferry.example.org')
  })

  it('keeps the dialog open with the reason when the server URL is refused', async () => {
    api.Settings.save.mockRejectedValue(new Error('the server URL must start with http:// or https://'))
    render(App)
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    await fireEvent.input(await screen.findByLabelText('Session server'), { target: { value: 'ftp://x' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('must start with http')
    expect(screen.getByRole('dialog', { name: 'Settings' })).toBeInTheDocument()
    expect(screen.getByLabelText('Session server')).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByLabelText('Deletion limit')).not.toHaveAttribute('aria-invalid')
  })

  it('saves a deletion limit, shows the default, and marks a refused one', async () => {
    api.Settings.get.mockResolvedValue({ serverURL: '', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
    render(App)
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    const limit = await screen.findByLabelText('Deletion limit')
    expect(limit).toHaveValue('')
    expect(limit).toHaveAttribute('placeholder', '50% (default)')
    expect(limit).toHaveAccessibleDescription(/a number of files, such as 100, or a share of its files/)

    api.Settings.save.mockRejectedValueOnce(new Error('deletion limit "lots": want a number of files or a percentage from 0% to 100%'))
    await fireEvent.input(limit, { target: { value: 'lots' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('deletion limit "lots"')
    expect(limit).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByLabelText('Session server')).not.toHaveAttribute('aria-invalid')

    await fireEvent.input(limit, { target: { value: ' 20% ' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(api.Settings.save).toHaveBeenLastCalledWith({ serverURL: '', theme: 'system', maxDelete: '20%', versions: '', versionsKeep: 0, includeHidden: false })
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    expect(await screen.findByLabelText('Deletion limit')).toHaveValue('20%')
  })

  it('keeps replaced and deleted files in a folder, for some days, and marks a refused folder', async () => {
    render(App)
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    const folder = await screen.findByLabelText('Keep replaced and deleted files in')
    const days = screen.getByLabelText('Remove kept versions older than')
    expect(folder).toHaveValue('')
    expect(folder).toHaveAttribute('placeholder', 'Nothing kept')
    expect(folder).toHaveAccessibleDescription(/A folder inside each data source, such as \.ferry-versions.*Empty: nothing is kept/)
    expect(days).toHaveValue(0)
    expect(days).toHaveAccessibleDescription('days (0 keeps them all)')
    expect(days).toBeDisabled() // nothing is kept: no days to keep it

    api.Settings.save.mockRejectedValueOnce(
      new Error('folder for kept versions "../old": want a clean relative path inside the data source root; leave it empty to keep nothing'),
    )
    await fireEvent.input(folder, { target: { value: '../old' } })
    expect(days).toBeEnabled()
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('folder for kept versions "../old"')
    expect(folder).toHaveAttribute('aria-invalid', 'true')
    expect(days).not.toHaveAttribute('aria-invalid')
    expect(screen.getByLabelText('Deletion limit')).not.toHaveAttribute('aria-invalid')
    expect(screen.getByLabelText('Session server')).not.toHaveAttribute('aria-invalid')

    // Part of a day is refused here, before Go sees it.
    const saves = api.Settings.save.mock.calls.length
    await fireEvent.input(folder, { target: { value: ' .ferry-versions ' } })
    await fireEvent.input(days, { target: { value: '2.5' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('want a whole number of days')
    expect(days).toHaveAttribute('aria-invalid', 'true')
    expect(folder).not.toHaveAttribute('aria-invalid')
    expect(api.Settings.save).toHaveBeenCalledTimes(saves)

    await fireEvent.input(days, { target: { value: '30' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(api.Settings.save).toHaveBeenLastCalledWith({
      serverURL: '',
      theme: 'system',
      maxDelete: '',
      versions: '.ferry-versions',
      versionsKeep: 30,
      includeHidden: false,
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }))
    expect(await screen.findByLabelText('Keep replaced and deleted files in')).toHaveValue('.ferry-versions')
    expect(screen.getByLabelText('Remove kept versions older than')).toHaveValue(30)

    // Emptied, nothing is kept, and no days are sent with it.
    await fireEvent.input(screen.getByLabelText('Keep replaced and deleted files in'), { target: { value: '' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(api.Settings.save).toHaveBeenLastCalledWith({ serverURL: '', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
  })
})
