// Human-readable numbers, sizes, rates, durations and dates.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return integer.format(Number.isFinite(n) ? n : 0)
}

/** Bytes in powers of 1024: 0 B, 999 B, 1.0 KiB, 12.3 MiB, 118 GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—'
  if (bytes < 1024) return `${Math.round(bytes)} B`
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  // Three significant digits at most, never "1024.0".
  const digits = value >= 100 ? 0 : 1
  let text = value.toFixed(digits)
  if (text === '1024' && unit < units.length - 1) {
    text = '1.0'
    unit++
  }
  return `${text} ${units[unit]}`
}

/** A transfer rate: "12.3 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '—'
  return `${formatBytes(bytesPerSecond)}/s`
}

/** A duration: "850 ms", "42 s", "3 min 07 s", "2 h 05 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const totalSeconds = Math.round(ms / 1000)
  if (totalSeconds < 60) return `${totalSeconds} s`
  const totalMinutes = Math.floor(totalSeconds / 60)
  if (totalMinutes < 60) return `${totalMinutes} min ${String(totalSeconds % 60).padStart(2, '0')} s`
  const hours = Math.floor(totalMinutes / 60)
  return `${hours} h ${String(totalMinutes % 60).padStart(2, '0')} min`
}

const pad = (n: number) => String(n).padStart(2, '0')

/** An RFC 3339 time in local time: "2024-03-05 14:22"; "" for a missing or zero time. */
export function formatDate(iso: string): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime()) || d.getFullYear() <= 1) return ''
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** The same with seconds, for tooltips. */
export function formatDateLong(iso: string): string {
  const short = formatDate(iso)
  if (!short) return ''
  return `${short}:${pad(new Date(iso).getSeconds())}`
}

/** "1 file", "2 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`
}

/** A member status wire name in words: "InventoryWaitingForStart" → "Inventory waiting for start". */
export function statusWords(status: string): string {
  if (!status) return 'Unknown'
  const words = status.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** Splits a path into its parent folder and its name: "a/b/c.txt" → ["a/b", "c.txt"]. */
export function splitPath(path: string): [string, string] {
  const trimmed = path.replace(/^\/+/, '')
  const cut = trimmed.lastIndexOf('/')
  if (cut < 0) return ['', trimmed]
  return [trimmed.slice(0, cut), trimmed.slice(cut + 1)]
}

/** The UTF-16 index in text of a UTF-8 byte offset (Go reports filter errors in bytes). */
export function charIndexOfByte(text: string, byteOffset: number): number {
  let bytes = 0
  let i = 0
  while (i < text.length && bytes < byteOffset) {
    const code = text.codePointAt(i)!
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4
    i += code >= 0x10000 ? 2 : 1
  }
  return i
}

const skipReasons: Record<string, string> = {
  hidden: 'hidden',
  noise: 'system noise',
  symlink: 'links',
  special: 'special files',
  inaccessible: 'unreadable',
  'not-found': 'vanished',
  'io-error': 'read errors',
  protected: 'system folders',
  excluded: 'kept versions',
  temp: "Ferry's temp files",
  pending: 'not sorted yet',
}

/** Why inventory entries were skipped, in words: "io-error" → "read errors". */
export function skipReason(reason: string): string {
  return skipReasons[reason] ?? reason.replace(/[-_]/g, ' ')
}

/** What a plan does, in words: "12 files to copy, 2 items to delete"; "nothing to do" for none. */
export function planWords(p: { copies: number; creates: number; deletes: number; dates: number }): string {
  const parts = [
    p.copies > 0 ? `${plural(p.copies, 'file')} to copy` : '',
    p.creates > 0 ? `${plural(p.creates, 'folder')} to create` : '',
    p.deletes > 0 ? `${plural(p.deletes, 'item')} to delete` : '',
    p.dates > 0 ? `${plural(p.dates, 'date')} to fix` : '',
  ].filter(Boolean)
  return parts.length ? parts.join(', ') : 'nothing to do'
}

/** The URL names this computer only (localhost, 127.0.0.0/8, ::1): no other computer reaches it. */
export function isLoopbackURL(url: string): boolean {
  let host: string
  try {
    host = new URL(url).hostname.toLowerCase()
  } catch {
    return false
  }
  host = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** A data source's folder as shown: the path on this computer, "photos-backup on laptop-b" for
 * another computer's, whose path is never shown. */
export function whereText(root: string, computer?: string): string {
  if (!computer) return root
  return root ? `${root} on ${computer}` : `on ${computer}`
}
