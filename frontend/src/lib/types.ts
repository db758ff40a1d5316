// The types of docs/desktop-api.md: what the Go services return and the events carry.
// Field names are the JSON names.

export type Theme = 'system' | 'light' | 'dark'

export type Settings = {
  serverURL: string
  theme: Theme
  /** The deletion limit: "100" (files), "20%" (of a destination's files), "" for the default. */
  maxDelete: string
  /** The folder in each data source that keeps replaced and deleted files (".ferry-versions"); "" keeps nothing. */
  versions: string
  /** Kept versions older than this many days are removed after a successful run; 0 keeps them all. */
  versionsKeep: number
}

export type Member = { id: string; letter: string; status: string; self: boolean; present: boolean }

export type SessionInfo = {
  id: string
  password: string
  serverURL: string
  embedded: boolean
  self: string
  members: Member[]
}

export type SourceKind = 'folder' | 'file'

export type Source = { code: string; path: string; kind: SourceKind }

export type DataNode = { code: string; member: string; sources: Source[] }

export type NodeProgress = {
  node: string
  files: number
  dirs: number
  bytes: number
  skipped: Record<string, number>
  done: boolean
  error?: string
}

export type ComparisonSummary = { total: number; parts: string[]; withActions: number }

export type Cell = {
  present: boolean
  size: number
  mtime: string
  content: string
  date: string
  accessIssue: boolean
}

export type ActionOp = 'copy' | 'copy-content' | 'copy-dates' | 'create' | 'delete' | 'do-nothing'

export const actionOps: readonly ActionOp[] = ['copy', 'copy-content', 'copy-dates', 'create', 'delete', 'do-nothing']

export type ItemAction = { op: string; source: string; targets: string[]; targeted: boolean }

export type ItemKind = 'file' | 'dir'

export type Item = { path: string; kind: ItemKind; cells: Record<string, Cell>; actions: ItemAction[] }

export type FilterError = { pos: number; end: number; msg: string }

export type ComparisonPage = { total: number; offset: number; items: Item[]; filterError?: FilterError }

export type PresetMode = 'mirror' | 'update' | 'two-way'

export type RuleError = { line: number; msg: string }

export type RulesState = { mode: string; text: string; presets: string[]; errors: RuleError[]; groups: number }

export type Destination = { node: string; copies: number; creates: number; deletes: number; dates: number; bytes: number }

/** What the plan deletes on one data source: files, out of the files it holds. */
export type Deletions = {
  part: string
  node: string
  root: string
  deletes: number
  files: number
  /** Another data source of the plan that holds nothing at all, and its folder. */
  emptySource?: string
  emptyRoot?: string
  /** Past the deletion limit. */
  over: boolean
}

/** Where a run keeps the files it replaces or deletes: dir/stamp/<their path> in each data source. */
export type KeptVersions = {
  dir: string
  /** The run's folder in dir: the UTC time of the plan, 2026-12-05T201500Z. */
  stamp: string
  /** Older run folders are removed after a successful run; 0 keeps them all. */
  keepDays: number
}

/** An item edited on both sides since the last two-way run. */
export type Conflict = {
  path: string
  /** The part whose (newest) edit keeps the name. */
  winner: string
  /** The conflict names the other edits are kept under, on every side. */
  kept: string[]
}

export type Confirmation = {
  actions: number
  bytes: number
  destinations: Destination[]
  /** Actions the rules asked for that will not run. */
  refused?: number
  /** Names this plan: Synchronization.AllowDeletions takes it. */
  revision: number
  deletions: Deletions[]
  /** The deletion limit in force, as the user reads it: "50% (default)", "20%", "100 files". */
  deleteLimit: string
  /** Some deletions are past the limit: Start needs AllowDeletions(revision) first. */
  overLimit: boolean
  /** Files the plan writes over (copies onto existing files). */
  replaces: number
  /** Where replaced and deleted files are kept; absent when nothing is kept. */
  versions?: KeptVersions
  /** Items edited on both sides since the last two-way run. */
  conflicts: Conflict[]
}

export type Progress = {
  totalActions: number
  finishedActions: number
  errorActions: number
  syncedVolume: number
  totalVolume: number
}

export type SyncState = 'idle' | 'running' | 'ended'

export type EndStatus = 'regular' | 'aborted' | 'error'

export type ItemResult = { path: string; op: string; target: string; ok: boolean; error?: string }

export type SyncStatus = {
  state: SyncState
  orchestration: string
  progress: Progress
  endStatus?: EndStatus
  endReason?: string
  errors: string[]
  /** Every failure and the first 10,000 successes. */
  items: ItemResult[]
  /** The successes not in items. */
  omittedItems?: number
}

export type SyncEventType = 'started' | 'progress' | 'abort_requested' | 'ended'

export type SyncEvent = { type: SyncEventType; status: SyncStatus }

export type InventoryDone = { error?: string }

/** The runtime events and their payloads. */
export type EventMap = {
  'session:changed': SessionInfo
  'inventory:progress': NodeProgress[]
  'inventory:done': InventoryDone
  'sync:event': SyncEvent
  'sync:done': SyncStatus
}

export type EventName = keyof EventMap

export const eventNames: readonly EventName[] = [
  'session:changed',
  'inventory:progress',
  'inventory:done',
  'sync:event',
  'sync:done',
]

/** What Diagnostics.Report receives for the comparison table's first render. */
export type FirstRenderReport = { ms: number; rows: number; total: number; method: string }

/** What Diagnostics.Report receives after a scroll of the comparison table stops, or the table loses the focus. */
export type ScrollReport = { p50: number; p95: number; max: number; count: number; total: number; end: 'idle' | 'leave' }
