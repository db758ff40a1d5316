import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('../../wailsjs/runtime/runtime', () => import('./fakeRuntime'))

import * as api from '../lib/api'
import { copyText, offEvents, onEvent } from '../lib/events'
import { ClipboardSetText, emit, listeners, resetRuntime } from './fakeRuntime'

afterEach(() => {
  delete window.go
  resetRuntime()
})

describe('api', () => {
  it('calls window.go.app.<Service>.<Method> with the arguments', async () => {
    const page = vi.fn(async () => ({ total: 1, offset: 0, items: [{ path: 'a', kind: 'file', cells: null, actions: null }] }))
    window.go = { app: { Comparison: { Page: page } } }
    const result = await api.Comparison.page('on:A', 200, 100)
    expect(page).toHaveBeenCalledWith('on:A', 200, 100)
    // Go's null slices and maps arrive as empty ones.
    expect(result.items[0].actions).toEqual([])
    expect(result.items[0].cells).toEqual({})
  })

  it('turns a Go error into an Error with its message', async () => {
    window.go = { app: { Sessions: { Quit: vi.fn(() => Promise.reject('refused while a synchronization runs')) } } }
    await expect(api.Sessions.quit()).rejects.toThrow('refused while a synchronization runs')
    await expect(api.Sessions.quit()).rejects.toBeInstanceOf(api.ServiceError)
  })

  it('says which method is missing instead of a type error', async () => {
    window.go = { app: {} }
    await expect(api.Data.nodes()).rejects.toThrow("Ferry's Data.Nodes is not available")
    expect(await api.Diagnostics.enabled()).toBe(false)
  })

  it('fills in empty lists for nodes, sessions and statuses', async () => {
    window.go = {
      app: {
        Data: { Nodes: vi.fn(async () => [{ code: 'A', member: 'm', sources: null }]) },
        Sessions: { Current: vi.fn(async () => null) },
        Synchronization: { Status: vi.fn(async () => ({ state: 'idle', errors: null, items: null })) },
      },
    }
    expect(await api.Data.nodes()).toEqual([{ code: 'A', member: 'm', sources: [] }])
    expect(await api.Sessions.current()).toBeNull()
    const status = await api.Synchronization.status()
    expect(status.errors).toEqual([])
    expect(status.items).toEqual([])
  })

  it('fills in the confirmation: no conflicts, nothing replaced, no versions kept', async () => {
    window.go = {
      app: {
        Synchronization: {
          Confirmation: vi.fn(async () => ({
            actions: 1,
            destinations: null,
            deletions: null,
            conflicts: [{ path: '/a.txt', winner: 'A', kept: null }],
          })),
        },
      },
    }
    const c = await api.Synchronization.confirmation()
    expect(c.destinations).toEqual([])
    expect(c.deletions).toEqual([])
    expect(c.conflicts).toEqual([{ path: '/a.txt', winner: 'A', kept: [] }])
    expect(c.replaces).toBe(0)
    expect(c.versions).toBeUndefined()
    expect(c.overLimit).toBe(false)
  })
})

describe('events', () => {
  it('delivers typed payloads until unsubscribed', () => {
    const got: number[] = []
    const off = onEvent('inventory:progress', (p) => got.push(p.length))
    emit('inventory:progress', [{ node: 'A' }, { node: 'B' }])
    off()
    emit('inventory:progress', [])
    expect(got).toEqual([2])
    onEvent('sync:done', () => {})
    onEvent('sync:event', () => {})
    offEvents('sync:done', 'sync:event')
    expect(listeners('sync:done') + listeners('sync:event')).toBe(0)
  })

  it('copies through the desktop clipboard, else the browser’s', async () => {
    await copyText('123abc456')
    expect(ClipboardSetText).toHaveBeenCalledWith('123abc456')
    ClipboardSetText.mockRejectedValueOnce(new Error('no runtime'))
    const writeText = vi.fn(async () => {})
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } })
    await copyText('pw')
    expect(writeText).toHaveBeenCalledWith('pw')
  })
})
