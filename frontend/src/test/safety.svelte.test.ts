import { fireEvent, render, screen } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'

import SafetyFields, { keptDays } from '../components/SafetyFields.svelte'

/** Props bound to state the test reads back, as a parent's bind: would. */
function bound(maxDelete: string, versions: string, versionsKeep: number | null) {
  const v = $state({ maxDelete, versions, versionsKeep })
  return {
    v,
    props: {
      get maxDelete() {
        return v.maxDelete
      },
      set maxDelete(x: string) {
        v.maxDelete = x
      },
      get versions() {
        return v.versions
      },
      set versions(x: string) {
        v.versions = x
      },
      get versionsKeep() {
        return v.versionsKeep
      },
      set versionsKeep(x: number | null) {
        v.versionsKeep = x
      },
    },
  }
}

describe('SafetyFields', () => {
  it('shows the values, binds the edits, and enables the days only while versions are kept', async () => {
    const { v, props } = bound('20%', '', 0)
    render(SafetyFields, { props })
    const limit = screen.getByLabelText('Deletion limit')
    const folder = screen.getByLabelText('Keep replaced and deleted files in')
    const days = screen.getByLabelText('Remove kept versions older than')
    expect(limit).toHaveValue('20%')
    expect(limit).toHaveAttribute('placeholder', '50% (default)')
    expect(folder).toHaveAttribute('placeholder', 'Nothing kept')
    expect(days).toBeDisabled()
    expect(days).toHaveAccessibleDescription('days (0 keeps them all)')

    await fireEvent.input(limit, { target: { value: '100' } })
    await fireEvent.input(folder, { target: { value: '.ferry-versions' } })
    expect(days).toBeEnabled()
    await fireEvent.input(days, { target: { value: '30' } })
    expect(v).toEqual({ maxDelete: '100', versions: '.ferry-versions', versionsKeep: 30 })

    await fireEvent.input(folder, { target: { value: '  ' } })
    expect(days).toBeDisabled()
  })

  it('speaks of Settings for a profile, and marks the field an error is about', () => {
    render(SafetyFields, { props: { ...bound('', '', 0).props, ofProfile: true, invalid: 'versions' } })
    const limit = screen.getByLabelText('Deletion limit')
    const folder = screen.getByLabelText('Keep replaced and deleted files in')
    expect(limit).toHaveAttribute('id', 'edit-max-delete')
    expect(limit).toHaveAttribute('placeholder', 'As in Settings')
    expect(limit).toHaveAccessibleDescription(/Empty: the limit of Settings\./)
    expect(folder).toHaveAccessibleDescription(/such as \.ferry-versions\. Empty: as in Settings\./)
    expect(folder).toHaveAttribute('aria-invalid', 'true')
    expect(limit).not.toHaveAttribute('aria-invalid')
    expect(screen.getByLabelText('Remove kept versions older than')).not.toHaveAttribute('aria-invalid')
  })

  it('counts the days of kept versions only while some are kept, in whole days', () => {
    expect(keptDays('.ferry-versions', 30)).toEqual({ days: 30, error: '' })
    expect(keptDays('.ferry-versions', null)).toEqual({ days: 0, error: '' })
    expect(keptDays(' ', 2.5)).toEqual({ days: 0, error: '' })
    expect(keptDays('.ferry-versions', 2.5).error).toBe('kept versions: 2.5 days: want a whole number of days, 0 or more (0 keeps them all)')
    expect(keptDays('.ferry-versions', -1).error).toMatch(/want a whole number of days/)
  })
})
