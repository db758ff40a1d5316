import { fireEvent, render, screen, waitFor } from '@testing-library/svelte'
import { beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))
vi.mock('../lib/api', () => import('./fakeApi'))

import App from '../App.svelte'
import * as api from './fakeApi'
import { emit, resetRuntime } from './fakeRuntime'

const words = ['gold', 'swear', 'doll', 'young', 'combine', 'fold', 'antenna', 'home', 'volume', 'move', 'layer', 'already']

beforeEach(() => {
  api.resetApi()
  resetRuntime()
})

describe('Trust', () => {
  it('shows the twelve safety words of a computer asking to join, and trusts it', async () => {
    api.Sessions.answerTrust.mockResolvedValue()
    render(App)
    await screen.findByRole('button', { name: 'Create session' })
    emit('trust:asked', { id: 7, role: 'joiner', computer: 'FBTM-DHXQ-2HJZ-IGY3', words })

    const dialog = await screen.findByRole('alertdialog', { name: 'A computer asks to join this session' })
    expect(dialog).toHaveTextContent('Computer FBTM-DHXQ-2HJZ-IGY3 asks to join')
    const items = screen.getByTestId('safety-words').querySelectorAll('li')
    expect([...items].map((li) => li.textContent)).toEqual(words)
    await fireEvent.click(screen.getByRole('button', { name: 'The same words: trust' }))
    expect(api.Sessions.answerTrust).toHaveBeenCalledWith(7, true)
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument())
  })

  it('refuses on the button, and on Escape, one question after the other', async () => {
    api.Sessions.answerTrust.mockResolvedValue()
    render(App)
    await screen.findByRole('button', { name: 'Create session' })
    emit('trust:asked', { id: 1, role: 'host', computer: 'AAAA-BBBB-CCCC-DDDD', words })
    emit('trust:asked', { id: 2, role: 'joiner', computer: 'EEEE-FFFF-GGGG-HHHH', words })

    expect(await screen.findByRole('alertdialog', { name: 'Check the computer you are joining' })).toHaveTextContent(
      'You are joining the session of computer AAAA-BBBB-CCCC-DDDD',
    )
    await fireEvent.click(screen.getByRole('button', { name: 'The words differ: refuse' }))
    expect(api.Sessions.answerTrust).toHaveBeenLastCalledWith(1, false)

    const second = await screen.findByRole('alertdialog', { name: 'A computer asks to join this session' })
    await fireEvent.keyDown(second, { key: 'Escape' })
    expect(api.Sessions.answerTrust).toHaveBeenLastCalledWith(2, false)
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument())
  })

  it('closes a question the other side settled', async () => {
    render(App)
    await screen.findByRole('button', { name: 'Create session' })
    emit('trust:asked', { id: 3, role: 'joiner', computer: 'AAAA-BBBB-CCCC-DDDD', words })
    await screen.findByRole('alertdialog')
    emit('trust:answered', { id: 3, trusted: false })
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument())
    expect(api.Sessions.answerTrust).not.toHaveBeenCalled()
  })
})
