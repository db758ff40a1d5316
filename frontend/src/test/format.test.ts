import { describe, expect, it } from 'vitest'
import { charIndexOfByte, formatBytes, formatCount, formatDate, formatDuration, formatRate, isLoopbackURL, planWords, skipReason, splitPath, statusWords } from '../lib/format'

describe('format', () => {
  it('writes sizes in powers of 1024', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1024)).toBe('1.0 KiB')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(5 * 1024 ** 2)).toBe('5.0 MiB')
    expect(formatBytes(1024 ** 2 - 1)).toBe('1.0 MiB')
    expect(formatBytes(123.4 * 1024 ** 3)).toBe('123 GiB')
    expect(formatBytes(-1)).toBe('—')
    expect(formatRate(2 * 1024 ** 2)).toBe('2.0 MiB/s')
  })

  it('writes counts, durations and dates', () => {
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatDuration(850)).toBe('850 ms')
    expect(formatDuration(42_000)).toBe('42 s')
    expect(formatDuration(187_000)).toBe('3 min 07 s')
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe('2 h 05 min')
    expect(formatDuration(Number.NaN)).toBe('—')
    expect(formatDate('')).toBe('')
    expect(formatDate('0001-01-01T00:00:00Z')).toBe('')
    const d = new Date(2024, 2, 5, 14, 22)
    expect(formatDate(d.toISOString())).toBe('2024-03-05 14:22')
  })

  it('splits paths and statuses into words', () => {
    expect(splitPath('a/b/c.txt')).toEqual(['a/b', 'c.txt'])
    expect(splitPath('/top')).toEqual(['', 'top'])
    expect(statusWords('InventoryWaitingForStart')).toBe('Inventory waiting for start')
  })

  it('says why inventory entries were skipped', () => {
    expect(skipReason('io-error')).toBe('read errors')
    expect(skipReason('excluded')).toBe('kept versions')
    expect(skipReason('temp')).toBe("Ferry's temp files")
    expect(skipReason('new-reason')).toBe('new reason')
  })

  it('maps Go byte offsets to string indexes', () => {
    expect(charIndexOfByte('abc', 2)).toBe(2)
    // "é" is two bytes, "😀" four bytes and two UTF-16 units.
    expect(charIndexOfByte('é x', 3)).toBe(2)
    expect(charIndexOfByte('😀 x', 5)).toBe(3)
    expect(charIndexOfByte('ab', 99)).toBe(2)
  })

  it('says what a plan does, leaving out what it does not', () => {
    expect(planWords({ copies: 12, creates: 0, deletes: 1, dates: 0 })).toBe('12 files to copy, 1 item to delete')
    expect(planWords({ copies: 0, creates: 2, deletes: 0, dates: 1 })).toBe('2 folders to create, 1 date to fix')
    expect(planWords({ copies: 0, creates: 0, deletes: 0, dates: 0 })).toBe('nothing to do')
  })
})

describe('isLoopbackURL', () => {
  it('knows the addresses that name this computer only', () => {
    for (const url of ['http://127.0.0.1:7420', 'http://127.8.9.10', 'http://localhost:1', 'http://LOCALHOST.', 'http://[::1]:80', 'https://a.localhost']) {
      expect(isLoopbackURL(url), url).toBe(true)
    }
    for (const url of ['http://10.0.0.9:7420', 'https://ferry.example.org', 'http://128.0.0.1', 'http://[::2]', 'not a url', '']) {
      expect(isLoopbackURL(url), url).toBe(false)
    }
  })
})
