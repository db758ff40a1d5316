import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import type { RulesState } from '../lib/types'
import { Wizard } from '../lib/wizard.svelte'
import RulesScreen from '../screens/RulesScreen.svelte'
import * as api from './fakeApi'
import { resetRuntime } from './fakeRuntime'

const state = (over: Partial<RulesState> = {}): RulesState => ({
  mode: 'mirror',
  text: '{\n  "rules": []\n}\n',
  presets: ['mirror', 'update', 'two-way'],
  errors: [],
  groups: 120,
  ...over,
})

function setup() {
  const wizard = new Wizard()
  wizard.phase = 'compared'
  wizard.step = 'rules'
  wizard.summary = { total: 10, parts: ['A', 'B'], withActions: 3 }
  render(RulesScreen, { props: { wizard } })
  return wizard
}

const next = () => screen.getByRole('button', { name: /Continue to synchronize/ })

beforeEach(() => {
  api.resetApi()
  resetRuntime()
  api.Rules.get.mockResolvedValue(state())
})

describe('Rules', () => {
  it('shows the preset, its direction and the number of action groups; a preset choice rewrites the rules', async () => {
    setup()
    const mirror = await screen.findByRole('radio', { name: /Mirror/ })
    await waitFor(() => expect(mirror).toBeChecked())
    expect(mirror).toHaveFocus()
    expect(screen.getAllByText('From → To')).toHaveLength(2)
    expect(screen.getByText(/action groups/)).toHaveTextContent('120 action groups')
    expect(screen.getByLabelText('Rules file')).toHaveValue('{\n  "rules": []\n}\n')
    expect(next()).toBeEnabled()

    api.Rules.usePreset.mockResolvedValue(state({ mode: 'two-way', text: '{"two": "way"}', groups: 7 }))
    await fireEvent.click(screen.getByRole('radio', { name: /Two-way/ }))
    await waitFor(() => expect(screen.getByLabelText('Rules file')).toHaveValue('{"two": "way"}'))
    expect(api.Rules.usePreset).toHaveBeenCalledWith('two-way')
    expect(screen.getByRole('radio', { name: /Two-way/ })).toBeChecked()
    expect(screen.getByText(/action groups/)).toHaveTextContent('7 action groups')
  })

  it('preselects the preset that fits two parts, and holds Continue with nothing chosen for more', async () => {
    api.Rules.get.mockResolvedValue(state({ mode: '', text: '', groups: 0 }))
    api.Rules.usePreset.mockResolvedValue(state())
    setup()
    const mirror = await screen.findByRole('radio', { name: /Mirror/ })
    await waitFor(() => expect(mirror).toBeChecked())
    expect(api.Rules.usePreset).toHaveBeenCalledWith('mirror')
    expect(next()).toBeEnabled()
    // The rules file is under Advanced, closed for a preset.
    expect(screen.getByText('Advanced: the rules file').closest('details')).not.toHaveAttribute('open')
  })

  it('chooses nothing for three parts, and says so on Continue', async () => {
    api.Rules.get.mockResolvedValue(state({ mode: '', text: '', groups: 0 }))
    const wizard = new Wizard()
    wizard.phase = 'compared'
    wizard.step = 'rules'
    wizard.dataMode = 'nodes'
    wizard.summary = { total: 10, parts: ['A', 'B', 'C'], withActions: 3 }
    render(RulesScreen, { props: { wizard } })
    await waitFor(() => expect(next()).toHaveAccessibleDescription('Choose a preset, or write rules under Advanced'))
    expect(next()).toBeDisabled()
    expect(api.Rules.usePreset).not.toHaveBeenCalled()
    expect(screen.getAllByText('Node A → Node B')).toHaveLength(2)
  })

  it('saves edited rules and lists their errors with line numbers', async () => {
    setup()
    const editor = await screen.findByLabelText('Rules file')
    await waitFor(() => expect(editor).toHaveValue('{\n  "rules": []\n}\n'))
    const save = screen.getByRole('button', { name: 'Save rules' })
    expect(save).toBeDisabled()

    const bad = '{\n  "rules": [\n    {"op": "teleport"}\n  ]\n}\n'
    await fireEvent.input(editor, { target: { value: bad } })
    expect(save).toBeEnabled()
    expect(next()).toBeDisabled()
    expect(next()).toHaveAccessibleDescription('Save or discard your edits first')

    api.Rules.save.mockResolvedValue(state({ errors: [{ line: 3, msg: 'rule 0: unknown op "teleport"' }] }))
    await fireEvent.click(save)
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('The rules have an error')
    expect(alert).toHaveTextContent('Line 3: rule 0: unknown op "teleport"')
    expect(api.Rules.save).toHaveBeenCalledWith(bad)
    // The text stays as typed, nothing lost, and the line is marked.
    expect(editor).toHaveValue(bad)
    expect(editor).toHaveAttribute('aria-invalid', 'true')
    expect(next()).toBeDisabled()

    // The line link puts the caret on that line.
    await fireEvent.click(within(alert).getByRole('button', { name: 'Line 3' }))
    expect(editor).toHaveFocus()
    const el = editor as HTMLTextAreaElement
    expect(bad.slice(el.selectionStart, el.selectionEnd)).toBe('    {"op": "teleport"}')

    const good = '{\n  "rules": [\n    {"op": "copy"}\n  ]\n}\n'
    await fireEvent.input(editor, { target: { value: good } })
    api.Rules.save.mockResolvedValue(state({ mode: '', text: good, groups: 3 }))
    await fireEvent.keyDown(editor, { key: 's', ctrlKey: true })
    await waitFor(() => expect(screen.queryByRole('alert')).not.toBeInTheDocument())
    expect(screen.getByText(/action groups/)).toHaveTextContent('3 action groups')
    expect(next()).toBeEnabled()
  })

  it('asks before a preset replaces unsaved edits', async () => {
    setup()
    const editor = await screen.findByLabelText('Rules file')
    await waitFor(() => expect(editor).toHaveValue('{\n  "rules": []\n}\n'))
    await fireEvent.input(editor, { target: { value: 'my edits' } })
    await fireEvent.click(screen.getByRole('radio', { name: /Update/ }))
    const dialog = await screen.findByRole('alertdialog', { name: 'Replace your edits?' })
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep my edits' }))
    expect(api.Rules.usePreset).not.toHaveBeenCalled()
    expect(editor).toHaveValue('my edits')
    expect(screen.getByRole('radio', { name: /Mirror/ })).toBeChecked()
  })

  it('shows rules kept with their errors after the window reloads, and planning errors without a line', async () => {
    api.Rules.get.mockResolvedValue(
      state({
        mode: 'custom',
        text: '{ "rules": [ }',
        errors: [
          { line: 1, msg: 'invalid character }' },
          { line: 0, msg: 'rule 2: copy A → B conflicts with delete on B' },
        ],
      }),
    )
    setup()
    const editor = await screen.findByLabelText('Rules file')
    await waitFor(() => expect(editor).toHaveValue('{ "rules": [ }'))
    const alert = screen.getByRole('alert')
    expect(alert).toHaveTextContent('The rules have 2 errors')
    expect(within(alert).getAllByRole('button')).toHaveLength(1)
    expect(alert).toHaveTextContent('rule 2: copy A → B conflicts with delete on B')
    expect(next()).toHaveAccessibleDescription('Fix the errors in the rules first')
    expect(screen.queryByRole('radio', { checked: true })).not.toBeInTheDocument()
  })
})
