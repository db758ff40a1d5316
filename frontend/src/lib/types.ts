// The types of docs/desktop-api.md: what the Go services return and the events carry, as the
// JSON the webview receives. They come from the Go types: the models Wails generates from the
// services (wailsjs/go/models.ts, `make bindings`) and the event payloads generated from
// app.EventPayloads (events.gen.ts). Here they only lose the models' methods and narrow a few
// strings to the values Go sends; a Go change the frontend does not follow fails svelte-check.

import type { app } from '../../wailsjs/go/models'
import type * as gen from './events.gen'

/** A generated model as JSON: its fields, without the class's methods. */
export type Plain<T> = T extends (infer U)[]
  ? Plain<U>[]
  : T extends object
    ? { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: Plain<T[K]> }
    : T

/** T with some fields narrowed (N): each must be a field of T, and of a type T's field accepts. */
type Narrow<T, N extends { [K in keyof N]: K extends keyof T ? T[K] : never }> = Omit<T, keyof N> & N

export type Theme = 'system' | 'light' | 'dark'

/** serverURL, theme, maxDelete (the deletion limit: "100" files, "20%" of a destination's files,
 * "" for the default), versions (the folder in each data source that keeps replaced and deleted
 * files; "" keeps nothing) and versionsKeep (days; 0 keeps them all). */
export type Settings = Narrow<Plain<app.UserSettings>, { theme: Theme }>

export type Member = Plain<app.Member>

export type SessionInfo = Plain<app.SessionInfo>

export type SourceKind = 'folder' | 'file'

export type Source = Narrow<Plain<app.Source>, { kind: SourceKind }>

export type DataNode = Narrow<Plain<app.Node>, { sources: Source[] }>

export type NodeProgress = gen.NodeProgress

export type ComparisonSummary = Plain<app.ComparisonSummary>

export type Cell = Plain<app.Cell>

export type ActionOp = 'copy' | 'copy-content' | 'copy-dates' | 'create' | 'delete' | 'do-nothing'

export const actionOps: readonly ActionOp[] = ['copy', 'copy-content', 'copy-dates', 'create', 'delete', 'do-nothing']

export type ItemAction = Plain<app.ItemAction>

export type ItemKind = 'file' | 'dir'

export type Item = Narrow<Plain<app.Item>, { kind: ItemKind }>

export type FilterError = Plain<app.FilterError>

export type ComparisonPage = Narrow<Plain<app.ComparisonPage>, { items: Item[] }>

export type PresetMode = 'mirror' | 'update' | 'two-way'

export type RuleError = Plain<app.RuleError>

export type RulesState = Plain<app.RulesState>

export type Destination = Plain<app.Destination>

/** What the plan deletes on one data source: deletes of its files; emptySource (and its folder
 * emptyRoot) when another data source of the plan holds nothing at all; over: past the limit.
 * root is a path on this computer, a folder's name alone on another (computer names it). */
export type Deletions = Plain<app.Deletions>

/** Where a run keeps the files it replaces or deletes: dir/stamp/<their path> in each data
 * source; stamp is the UTC time of the plan (2026-12-05T201500Z). */
export type KeptVersions = Plain<app.KeptVersions>

/** An item edited on both sides since the last two-way run: the part whose newest edit keeps the
 * name (winner) and the conflict names the other edits are kept under (kept). */
export type Conflict = Plain<app.Conflict>

/** What Start would do: revision names the plan (AllowDeletions takes it); with overLimit, Start
 * needs AllowDeletions(revision) first; versions is absent when nothing is kept. */
export type Confirmation = Plain<app.Confirmation>

export type Progress = Plain<app.Progress>

export type SyncState = 'idle' | 'running' | 'ended'

export type EndStatus = 'regular' | 'aborted' | 'error'

export type ItemResult = Plain<app.ItemResult>

/** items holds every failure and the first 10,000 successes; omittedItems counts the others. */
export type SyncStatus = Narrow<Plain<app.SyncStatus>, { state: SyncState; endStatus?: EndStatus }>

export type SyncEventType = 'started' | 'progress' | 'abort_requested' | 'ended'

export type SyncEvent = Narrow<gen.SyncEvent, { type: SyncEventType }>

export type InventoryDone = gen.InventoryDone

/** The runtime events and their payloads. */
export type EventMap = Narrow<gen.EventPayloads, { 'sync:event': SyncEvent; 'trust:asked': TrustQuestion }>

export type EventName = keyof EventMap

export const eventNames: readonly EventName[] = [
  'session:changed',
  'inventory:progress',
  'inventory:done',
  'sync:event',
  'sync:done',
  'profile:run',
  'window:close-requested',
  'trust:asked',
  'trust:answered',
]

export type ProfileStatus = 'done' | 'errors' | 'refused' | 'aborted' | 'failed'

/** How the last run of a profile ended; at is an RFC 3339 time. */
export type ProfileRun = Narrow<Plain<app.ProfileRun>, { status: ProfileStatus }>

/** A saved profile; a file that cannot be read has only file and error. */
export type ProfileInfo = Narrow<Plain<app.ProfileInfo>, { lastRun?: ProfileRun }>

/** A shared profile another member runs and invites this computer to. */
export type ProfileInvitation = Plain<app.ProfileInvitation>

/** How a shared profile's run waits for its members (profile:waiting). */
export type ProfileWaiting = gen.ProfileWaiting

/** What the Edit dialog changes in a profile. */
export type ProfileEdit = Plain<app.ProfileEdit>

/** The other computer's part in a join: host when this one joins its session, joiner when it
 * asks to join this one's. */
export type TrustRole = 'host' | 'joiner'

/** A join meets a computer whose key this one has not trusted before: compare the words. */
export type TrustQuestion = Narrow<gen.TrustQuestion, { role: TrustRole }>

export type TrustAnswered = gen.TrustAnswered

/** What Diagnostics.Report receives for the comparison table's first render. */
export type FirstRenderReport = { ms: number; rows: number; total: number; method: string }

/** What Diagnostics.Report receives after a scroll of the comparison table stops, or the table loses the focus. */
export type ScrollReport = { p50: number; p95: number; max: number; count: number; total: number; end: 'idle' | 'leave' }
