import { render, screen } from '@testing-library/svelte'
import { describe, expect, it, vi } from 'vitest'

vi.mock('../wailsjs/go/app/App', () => ({
  Version: vi.fn(() => Promise.resolve('1.2.3')),
}))

import App from './App.svelte'

describe('start page', () => {
  it('shows the title, the tagline and the Go-side version', async () => {
    render(App)
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Ferry')
    expect(screen.getByText('Synchronize folders, on this machine or between machines')).toBeInTheDocument()
    expect(await screen.findByText('1.2.3')).toBeInTheDocument()
  })
})
