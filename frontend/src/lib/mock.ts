// Made-up services and events for looking at the UI in a plain browser (index.html?mock). Never
// loaded inside the desktop app, where window.go exists.
//
//   ?mock             a fresh start
//   ?mock=data        a session with two nodes
//   ?mock=inventory   an inventory running
//   ?mock=comparison  100,000 compared items (also for Rules and Synchronize)
//   ?mock=sync        a synchronization running
//   ?mock=done        a synchronization ended with some errors
//   &theme=dark|light, &diag (diagnostics on), &parts=3
//   &empty            node A is empty (an unmounted drive): the deletion warning

import type {
  ComparisonPage,
  ComparisonSummary,
  Confirmation,
  DataNode,
  FilterError,
  Item,
  ItemAction,
  ItemResult,
  NodeProgress,
  RulesState,
  SessionInfo,
  Settings,
  SyncStatus,
  Theme,
} from './types'

type Listener = { cb: (...data: unknown[]) => void; left: number }

const GiB = 1024 ** 3
const MiB = 1024 ** 2

/** A small deterministic generator, so every load shows the same data. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms))

const events = ['Lisbon', 'Family', 'Garden', 'Snow trip', 'Birthday', 'Harbour', 'Concert', 'Old town', 'Beach', 'Museum']
const kinds = ['IMG_%.jpg', 'DSC_%.NEF', 'IMG_%.HEIC', 'VID_%.mp4', 'scan_%.pdf', 'notes_%.txt']

function makeItems(count: number, parts: string[]): Item[] {
  const rnd = random(42)
  const items: Item[] = []
  const base = Date.parse('2024-05-01T10:00:00Z')
  let folder = 0
  while (items.length < count) {
    const year = 2012 + (folder % 13)
    const dir = `Photos/${year}/${String((folder % 12) + 1).padStart(2, '0')} ${events[folder % events.length]}`
    folder++
    const dirCells: Item['cells'] = {}
    for (const p of parts) dirCells[p] = { present: true, size: 0, mtime: new Date(base - folder * 86400e3).toISOString(), content: '', date: '', accessIssue: false }
    items.push({ path: dir, kind: 'dir', cells: dirCells, actions: [] })
    const files = 40 + Math.floor(rnd() * 120)
    for (let f = 0; f < files && items.length < count; f++) {
      const name = kinds[Math.floor(rnd() * kinds.length)].replace('%', String(1000 + f * 7 + folder).padStart(4, '0'))
      const size = Math.floor(rnd() < 0.1 ? rnd() * 900 * MiB : 200 * 1024 + rnd() * 14 * MiB)
      const mtime = base - Math.floor(rnd() * 4e10)
      const roll = rnd()
      const cells: Item['cells'] = {}
      const actions: ItemAction[] = []
      parts.forEach((p, k) => {
        let present = true
        let content = 'A'
        let date = 'A'
        let s = size
        let t = mtime
        if (k > 0) {
          if (roll < 0.08) present = false
          else if (roll < 0.18) {
            content = 'B'
            date = 'B'
            s = size + Math.floor(rnd() * 2 * MiB)
            t = mtime - 86400e3 * Math.ceil(rnd() * 30)
          } else if (roll < 0.22) {
            date = 'B'
            t = mtime - 3600e3
          }
        } else if (roll > 0.95) present = false
        cells[p] = { present, size: s, mtime: new Date(t).toISOString(), content, date, accessIssue: present && rnd() < 0.002 }
      })
      const [a, ...rest] = parts
      const absentOnA = !cells[a].present
      for (const b of rest) {
        if (absentOnA && cells[b].present) actions.push({ op: 'delete', source: '', targets: [b], targeted: false })
        else if (!cells[b].present || cells[b].content !== cells[a].content)
          actions.push({ op: 'copy', source: a, targets: [b], targeted: false })
        else if (cells[b].date !== cells[a].date) actions.push({ op: 'copy-dates', source: a, targets: [b], targeted: false })
      }
      items.push({ path: `${dir}/${name}`, kind: 'file', cells, actions })
    }
  }
  return items
}

/** The mock's filter: fixed answers, not the filter language (backend/filter has it). Any filter
 * shows the items with actions; one holding `bad:` shows the error of an unknown keyword. */
function cannedFilter(text: string): { match?: (it: Item) => boolean; error?: FilterError } {
  const bad = text.indexOf('bad:')
  if (bad >= 0) return { error: { pos: bad, end: bad + 3, msg: 'unknown keyword "bad"' } }
  return { match: (it) => it.actions.length > 0 }
}

const mirrorRules = (from: string, to: string) => `{
  "settings": {
    "matching": "tree",
    "analysis": "smart"
  },
  "rules": [
    {
      "applies_to": "file",
      "match": "any",
      "conditions": [
        {"left": "${from}", "property": "content", "op": "!=", "right": "${to}"},
        {"left": "${from}", "property": "presence", "op": "not-on", "right": "${to}"}
      ],
      "actions": [{"op": "copy", "from": "${from}", "to": "${to}"}]
    },
    {
      "applies_to": "file",
      "match": "all",
      "conditions": [{"left": "${to}", "property": "presence", "op": "not-on", "right": "${from}"}],
      "actions": [{"op": "delete", "on": "${to}"}]
    }
  ]
}
`

/** The mock's rules check: fixed answers, not the rules file's (backend/rules has it). A text that
 * does not start with "{" has one error on line 1. */
function cannedRuleErrors(text: string): { line: number; msg: string }[] {
  return text.trim() === '' || text.trimStart().startsWith('{') ? [] : [{ line: 1, msg: 'invalid character: want a JSON object' }]
}

export function installMock(params: URLSearchParams): void {
  const stage = params.get('mock') ?? ''
  const order = ['', 'data', 'inventory', 'comparison', 'sync', 'done']
  const at = (s: string) => order.indexOf(stage) >= order.indexOf(s)
  const parts = ['A', 'B', 'C', 'D', 'E'].slice(0, Math.max(2, Math.min(5, Number(params.get('parts')) || 2)))

  const listeners = new Map<string, Listener[]>()
  const emit = (name: string, ...data: unknown[]) => {
    for (const l of [...(listeners.get(name) ?? [])]) {
      l.cb(...data)
      if (l.left > 0 && --l.left === 0) listeners.set(name, (listeners.get(name) ?? []).filter((x) => x !== l))
    }
  }

  let settings: Settings = {
    serverURL: '',
    theme: (params.get('theme') as Theme) || 'system',
    maxDelete: '',
    versions: params.get('versions') ?? '',
    versionsKeep: params.has('versions') ? 30 : 0,
    includeHidden: false,
  }
  const self = { id: 'm-1', letter: 'A', status: 'InventoryWaitingForStart', self: true, present: true, nodes: [] }
  let session: SessionInfo | null = null
  const newSession = (): SessionInfo => ({
    id: '482kqz915',
    password: 'amber-tide-6142',
    serverURL: 'http://127.0.0.1:47311',
    embedded: true,
    self: self.id,
    members: [{ ...self }],
  })
  let nodes: DataNode[] = []
  let nextSource = 1
  const addNodeNamed = (code: string, paths: string[]) => {
    nodes.push({ code, member: self.id, sources: paths.map((p, i) => ({ code: `${code}${i + 1}`, path: p, kind: 'folder' })) })
  }

  let items: Item[] = []
  const targeted = new Map<string, ItemAction[]>()
  const filtered = new Map<string, Item[]>()
  let rules: RulesState = {
    mode: 'mirror',
    text: mirrorRules(parts[0], parts[1]),
    presets: ['mirror', 'update', 'two-way'],
    errors: [],
    groups: 0,
  }
  let sync: SyncStatus = {
    state: 'idle',
    orchestration: 'local',
    progress: { totalActions: 0, finishedActions: 0, errorActions: 0, syncedVolume: 0, totalVolume: 0 },
    errors: [],
    items: [],
    omittedItems: 0,
  }
  let syncTimer: ReturnType<typeof setInterval> | undefined
  let abortAsked = false

  const summary = (): ComparisonSummary => ({
    total: items.length,
    parts,
    withActions: items.reduce((n, it) => n + (it.actions.length > 0 || targeted.has(it.path) ? 1 : 0), 0),
  })
  const withTargeted = (it: Item): Item => {
    const mine = targeted.get(it.path)
    return mine ? { ...it, actions: [...mine, ...it.actions.filter((a) => !mine.some((t) => t.targets.some((x) => a.targets.includes(x))))] } : it
  }

  if (at('data')) {
    session = newSession()
    addNodeNamed('A', ['/home/maria/Photos'])
    addNodeNamed('B', ['/media/maria/Backup/Photos'])
    for (const p of parts.slice(2)) addNodeNamed(p, [`/mnt/nas/share-${p.toLowerCase()}/Photos`])
  }
  if (at('comparison')) {
    items = makeItems(100_000, parts)
    rules.groups = 8114
  }

  const emptySource = params.has('empty')
  let revision = 1
  let allowed = 0
  const planStamp = new Date().toISOString().replace(/[-:]/g, '').replace(/^(\d{4})(\d{2})(\d{2})T(\d{6}).*$/, '$1-$2-$3T$4Z')
  const kept = () => (settings.versions ? { dir: settings.versions, stamp: planStamp, keepDays: settings.versionsKeep } : undefined)
  // Two-way runs after the first (or ?conflicts) find files edited on both sides.
  const conflicts = () =>
    rules.mode === 'two-way' || params.has('conflicts')
      ? [
          { path: '/2024/Rome/IMG_4410.jpg', winner: parts[0], kept: [`/2024/Rome/IMG_4410.conflict-${parts[1]}-20261204-181502.jpg`] },
          { path: '/Notes/packing list.txt', winner: parts[1], kept: [`/Notes/packing list.conflict-${parts[0]}-20261205-090311.txt`] },
        ]
      : []
  const confirmation = (): Confirmation => {
    if (emptySource) {
      const dest = parts.slice(1).map((node) => ({ node, copies: 0, creates: 0, deletes: 96_012, dates: 0, bytes: 0 }))
      return {
        actions: dest.reduce((n, d) => n + d.deletes, 0),
        bytes: 0,
        destinations: dest,
        refused: 0,
        revision,
        deletions: parts.slice(1).map((node) => ({
          part: node,
          node,
          root: nodes.find((n) => n.code === node)?.sources[0]?.path ?? `/media/maria/Backup/${node}`,
          deletes: 94_210,
          files: 94_210,
          emptySource: parts[0],
          emptyRoot: nodes[0]?.sources[0]?.path ?? '/home/maria/Photos',
          over: true,
        })),
        deleteLimit: settings.maxDelete ? settings.maxDelete : '50% (default)',
        overLimit: true,
        replaces: 0,
        versions: kept(),
        conflicts: [],
      }
    }
    const dest = parts.slice(1).map((node, i) => ({
      node,
      copies: 7210 - i * 812,
      creates: 42 - i * 5,
      deletes: 535 - i * 60,
      dates: 1210 - i * 100,
      bytes: Math.round((18.4 - i * 2.2) * GiB),
    }))
    return {
      actions: dest.reduce((n, d) => n + d.copies + d.creates + d.deletes + d.dates, 0),
      bytes: dest.reduce((n, d) => n + d.bytes, 0),
      destinations: dest,
      refused: 0,
      revision,
      deletions: dest.map((d) => ({
        part: d.node,
        node: d.node,
        root: nodes.find((n) => n.code === d.node)?.sources[0]?.path ?? `/media/maria/Backup/${d.node}`,
        deletes: d.deletes - 35,
        files: 94_210,
        over: false,
      })),
      deleteLimit: settings.maxDelete ? settings.maxDelete : '50% (default)',
      overLimit: false,
      replaces: dest.reduce((n, d) => n + Math.round(d.copies / 3), 0),
      versions: kept(),
      conflicts: conflicts(),
    }
  }

  const results = (n: number): ItemResult[] =>
    items
      .filter((it) => it.actions.length > 0)
      .slice(0, n)
      .map((it, i) => ({
        path: it.path,
        op: it.actions[0].op,
        target: it.actions[0].targets[0],
        ok: i % 97 !== 13,
        error: i % 97 === 13 ? 'permission denied: the target folder is read-only' : undefined,
      }))

  const startSync = (fromFraction = 0) => {
    const c = confirmation()
    const total = c.actions
    const volume = c.bytes
    let done = Math.floor(total * fromFraction)
    let bytes = Math.floor(volume * fromFraction)
    let errors = Math.floor(done / 2000)
    abortAsked = false
    sync = {
      state: 'running',
      orchestration: 'local',
      progress: { totalActions: total, finishedActions: done, errorActions: errors, syncedVolume: bytes, totalVolume: volume },
      errors: [],
      items: [],
      omittedItems: 0,
    }
    emit('sync:event', { type: 'started', status: sync })
    syncTimer = setInterval(() => {
      const step = abortAsked ? 0 : 1
      // About 12 s for the whole run.
      done = Math.min(total, done + Math.floor((total / 48) * (0.8 + Math.random() * 0.4)) * step)
      bytes = Math.min(volume, Math.max(bytes, Math.floor((volume * done) / total)))
      if (Math.random() < 0.05 * step) errors++
      sync = { ...sync, progress: { totalActions: total, finishedActions: done, errorActions: errors, syncedVolume: bytes, totalVolume: volume } }
      emit('sync:event', { type: 'progress', status: sync })
      if (done >= total || abortAsked) end(abortAsked ? 'aborted' : 'regular')
    }, 250)
  }

  const end = (endStatus: 'regular' | 'aborted') => {
    clearInterval(syncTimer)
    const list = results(15_000)
    const failed = list.filter((r) => !r.ok).length
    sync = {
      ...sync,
      progress: { ...sync.progress, errorActions: failed },
      state: 'ended',
      endStatus,
      endReason: endStatus === 'aborted' ? 'Aborted by member A' : undefined,
      errors: list.filter((r) => !r.ok).slice(0, 4).map((r) => `${r.path}: ${r.error}`),
      items: list,
      omittedItems: 0,
    }
    emit('sync:event', { type: 'ended', status: sync })
    emit('sync:done', sync)
  }

  if (stage === 'sync') setTimeout(() => startSync(0.42), 0)
  if (stage === 'done') {
    const c = confirmation()
    const list = results(15_000)
    const failed = list.filter((r) => !r.ok)
    sync = {
      state: 'ended',
      orchestration: 'local',
      endStatus: 'regular',
      progress: { totalActions: c.actions, finishedActions: c.actions, errorActions: failed.length, syncedVolume: c.bytes, totalVolume: c.bytes },
      errors: failed.slice(0, 4).map((r) => `${r.path}: ${r.error}`),
      items: list,
      omittedItems: 0,
    }
  }

  const runInventory = () => {
    const progress: NodeProgress[] = nodes.map((n) => ({ node: n.code, files: 0, dirs: 0, bytes: 0, skipped: {}, hashedFiles: 0, hashedBytes: 0, done: false }))
    let ticks = 0
    const timer = setInterval(() => {
      ticks++
      progress.forEach((p, i) => {
        if (p.done) return
        p.files += 1800 + i * 300
        p.dirs += 14
        p.bytes += 2.3 * GiB
        p.skipped = { hidden: Math.floor(ticks * 3.5), noise: ticks, inaccessible: i === 1 && ticks > 4 ? 2 : 0 }
        if (ticks >= 24 + i * 6) p.done = true
      })
      emit('inventory:progress', progress.map((p) => ({ ...p })))
      if (progress.every((p) => p.done)) {
        clearInterval(timer)
        items = makeItems(100_000, parts)
        rules.groups = 8114
        emit('inventory:done', {})
      }
    }, 100)
  }
  if (stage === 'inventory') setTimeout(runInventory, 0)

  const page = async (filter: string, offset: number, limit: number): Promise<ComparisonPage> => {
    await later(30 + Math.random() * 50)
    let list = filtered.get(filter)
    if (!list) {
      if (filter.trim() === '') list = items
      else {
        const f = cannedFilter(filter)
        if (f.error) return { total: 0, offset, items: [], filterError: f.error }
        list = items.filter((it) => f.match!(withTargeted(it)))
      }
      if (filtered.size > 8) filtered.clear()
      filtered.set(filter, list)
    }
    return { total: list.length, offset, items: list.slice(offset, offset + limit).map(withTargeted) }
  }

  const app = {
    Settings: {
      Get: async () => settings,
      Save: async (s: Settings) => {
        settings = { ...s }
      },
      Version: async () => '0.9.0',
    },
    Sessions: {
      Create: async () => {
        await later(300)
        session = newSession()
        return session
      },
      Join: async (id: string, password: string) => {
        await later(300)
        if (password.length < 4) throw 'wrong session id or password'
        session = { ...newSession(), id, password, embedded: false, serverURL: settings.serverURL || 'https://ferry.example.org' }
        return session
      },
      Quit: async () => {
        if (sync.state === 'running') throw 'a synchronization is running'
        session = null
        nodes = []
        rules = { ...rules, mode: '', text: '', errors: [], groups: 0 }
      },
      Current: async () => session,
    },
    Data: {
      Nodes: async () => nodes,
      AddNode: async () => {
        const code = String.fromCharCode(65 + nodes.length)
        const node: DataNode = { code, member: self.id, sources: [] }
        nodes.push(node)
        return node
      },
      RemoveNode: async (code: string) => {
        nodes = nodes.filter((n) => n.code !== code)
      },
      AddSource: async (node: string, path: string) => {
        if (!path.startsWith('/')) throw `${path}: no such file or directory`
        const n = nodes.find((x) => x.code === node)
        if (!n) throw `no node ${node}`
        const source = { code: `${node}${n.sources.length + nextSource++}`, path, kind: /\.\w+$/.test(path) ? 'file' : 'folder' } as const
        n.sources.push(source)
        return source
      },
      RemoveSource: async (code: string) => {
        for (const n of nodes) n.sources = n.sources.filter((s) => s.code !== code)
      },
      PickFolder: async () => '/home/maria/Documents',
      PickFile: async () => '/home/maria/notes.txt',
      CreateFolder: async (path: string) => path,
    },
    Inventory: {
      Start: async () => {
        setTimeout(runInventory, 50)
      },
    },
    Comparison: {
      Summary: async () => {
        if (items.length === 0) throw 'the inventory is not finished'
        return summary()
      },
      Page: page,
      AddTargetedAction: async (path: string, op: string, source: string, targets: string[]) => {
        targeted.set(path, [...(targeted.get(path) ?? []), { op, source, targets, targeted: true }])
        filtered.clear()
        return summary()
      },
      RemoveTargetedActions: async (path: string) => {
        targeted.delete(path)
        filtered.clear()
        return summary()
      },
    },
    Rules: {
      Get: async () => rules,
      UsePreset: async (mode: string) => {
        const [a, b] = parts
        const text =
          mode === 'mirror'
            ? mirrorRules(a, b)
            : mirrorRules(a, b).replace(/,\n\s+\{\n\s+"applies_to": "file",\n\s+"match": "all"[\s\S]*?\}\n(?=\s+\])/, '\n')
        rules = { ...rules, mode, text, errors: [], groups: mode === 'mirror' ? 8114 : mode === 'update' ? 7579 : 9020 }
        return rules
      },
      Save: async (text: string) => {
        const errors = cannedRuleErrors(text)
        rules = errors.length ? { ...rules, errors } : { ...rules, mode: '', text, errors: [] }
        return rules
      },
    },
    Synchronization: {
      Confirmation: async () => confirmation(),
      AllowDeletions: async (r: number) => {
        if (r !== revision) throw 'the plan changed since it was shown: check what it deletes again'
        allowed = r
      },
      Start: async () => {
        const c = confirmation()
        if (c.overLimit && allowed !== c.revision) throw 'this plan deletes past the deletion limit: confirm these deletions before starting'
        revision++
        setTimeout(() => startSync(0), 50)
      },
      Abort: async () => {
        abortAsked = true
        emit('sync:event', { type: 'abort_requested', status: sync })
      },
      Status: async () => sync,
    },
    Window: {
      Quit: async () => {},
    },
    Diagnostics: {
      Enabled: async () => params.has('diag'),
      Report: async (name: string, data: string) => {
        console.info(`ferry-diagnostics ${name} ${data}`)
      },
    },
  }

  const w = window as unknown as Record<string, unknown>
  w.go = { app }
  w.runtime = {
    EventsOnMultiple: (name: string, cb: (...data: unknown[]) => void, max: number) => {
      const l: Listener = { cb, left: max }
      listeners.set(name, [...(listeners.get(name) ?? []), l])
      return () => listeners.set(name, (listeners.get(name) ?? []).filter((x) => x !== l))
    },
    EventsOff: (...names: string[]) => names.forEach((n) => listeners.delete(n)),
    EventsEmit: emit,
    ClipboardSetText: async (text: string) => {
      await navigator.clipboard?.writeText(text)
      return true
    },
  }
}
