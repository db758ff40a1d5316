// A stand-in for src/lib/api.ts in tests: every service method is a vi.fn with a plain default.
import { vi } from 'vitest'
import type {
  ComparisonPage,
  ComparisonSummary,
  Confirmation,
  DataNode,
  PresetMode,
  ProfileEdit,
  ProfileInfo,
  ProfileInvitation,
  RulesState,
  SessionInfo,
  Settings as SettingsValue,
  Source,
  SyncStatus,
} from '../lib/types'

export class ServiceError extends Error {}

export const idleStatus = (): SyncStatus => ({
  state: 'idle',
  orchestration: 'local',
  progress: { totalActions: 0, finishedActions: 0, errorActions: 0, syncedVolume: 0, totalVolume: 0 },
  errors: [],
  items: [],
  omittedItems: 0,
})

/** A plan to confirm: nothing to do, nothing past the deletion limit, no versions kept, no conflict,
 * unless over says otherwise. */
export const plan = (over: Partial<Confirmation> = {}): Confirmation => ({
  actions: 0,
  bytes: 0,
  destinations: [],
  refused: 0,
  revision: 1,
  deletions: [],
  deleteLimit: '50% (default)',
  overLimit: false,
  replaces: 0,
  conflicts: [],
  ...over,
})

export const Settings = {
  get: vi.fn<() => Promise<SettingsValue>>(),
  save: vi.fn<(s: SettingsValue) => Promise<void>>(),
  version: vi.fn<() => Promise<string>>(),
}

export const Sessions = {
  create: vi.fn<() => Promise<SessionInfo>>(),
  join: vi.fn<(id: string, password: string) => Promise<SessionInfo>>(),
  quit: vi.fn<() => Promise<void>>(),
  current: vi.fn<() => Promise<SessionInfo | null>>(),
  answerTrust: vi.fn<(id: number, trusted: boolean) => Promise<void>>(),
}

export const Data = {
  nodes: vi.fn<() => Promise<DataNode[]>>(),
  addNode: vi.fn<() => Promise<DataNode>>(),
  removeNode: vi.fn<(code: string) => Promise<void>>(),
  addSource: vi.fn<(node: string, path: string) => Promise<Source>>(),
  removeSource: vi.fn<(code: string) => Promise<void>>(),
  pickFolder: vi.fn<() => Promise<string>>(),
  pickFile: vi.fn<() => Promise<string>>(),
  createFolder: vi.fn<(path: string) => Promise<string>>(),
}

export const Inventory = {
  start: vi.fn<() => Promise<void>>(),
}

export const Comparison = {
  summary: vi.fn<() => Promise<ComparisonSummary>>(),
  page: vi.fn<(filter: string, offset: number, limit: number) => Promise<ComparisonPage>>(),
  addTargetedAction: vi.fn<(path: string, op: string, source: string, targets: string[]) => Promise<ComparisonSummary>>(),
  removeTargetedActions: vi.fn<(path: string) => Promise<ComparisonSummary>>(),
}

export const Rules = {
  get: vi.fn<() => Promise<RulesState>>(),
  usePreset: vi.fn<(mode: PresetMode) => Promise<RulesState>>(),
  save: vi.fn<(text: string) => Promise<RulesState>>(),
}

export const Synchronization = {
  confirmation: vi.fn<() => Promise<Confirmation>>(),
  allowDeletions: vi.fn<(revision: number) => Promise<void>>(),
  start: vi.fn<() => Promise<void>>(),
  abort: vi.fn<() => Promise<void>>(),
  status: vi.fn<() => Promise<SyncStatus>>(),
}

export const Profiles = {
  list: vi.fn<() => Promise<ProfileInfo[]>>(),
  save: vi.fn<(name: string) => Promise<ProfileInfo>>(),
  edit: vi.fn<(name: string, edit: ProfileEdit) => Promise<ProfileInfo>>(),
  delete: vi.fn<(name: string) => Promise<void>>(),
  open: vi.fn<(name: string) => Promise<void>>(),
  run: vi.fn<(name: string) => Promise<void>>(),
  invitations: vi.fn<() => Promise<ProfileInvitation[]>>(),
  join: vi.fn<(name: string) => Promise<void>>(),
}

export const Window = {
  quit: vi.fn<() => Promise<void>>(),
}

export const Diagnostics = {
  enabled: vi.fn<() => Promise<boolean>>(),
  report: vi.fn<(name: string, data: string) => Promise<void>>(),
}

const services = { Settings, Sessions, Data, Inventory, Comparison, Rules, Synchronization, Profiles, Window, Diagnostics }

/** Resets every method to a default: no session, nothing to show. */
export function resetApi(): void {
  for (const service of Object.values(services)) {
    for (const fn of Object.values(service)) (fn as ReturnType<typeof vi.fn>).mockReset()
  }
  Settings.get.mockResolvedValue({ serverURL: '', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
  Settings.save.mockResolvedValue(undefined)
  Settings.version.mockResolvedValue('1.2.3')
  Sessions.current.mockResolvedValue(null)
  Sessions.quit.mockResolvedValue(undefined)
  Data.nodes.mockResolvedValue([])
  Data.pickFolder.mockResolvedValue('')
  Data.pickFile.mockResolvedValue('')
  Data.createFolder.mockImplementation(async (path) => path)
  Window.quit.mockResolvedValue(undefined)
  Inventory.start.mockResolvedValue(undefined)
  Comparison.summary.mockRejectedValue(new Error('the inventory is not finished'))
  Synchronization.status.mockResolvedValue(idleStatus())
  Synchronization.start.mockResolvedValue(undefined)
  Synchronization.allowDeletions.mockResolvedValue(undefined)
  Synchronization.abort.mockResolvedValue(undefined)
  Profiles.list.mockResolvedValue([])
  Profiles.delete.mockResolvedValue(undefined)
  Profiles.open.mockResolvedValue(undefined)
  Profiles.run.mockResolvedValue(undefined)
  Profiles.invitations.mockResolvedValue([])
  Profiles.join.mockResolvedValue(undefined)
  Diagnostics.enabled.mockResolvedValue(false)
  Diagnostics.report.mockResolvedValue(undefined)
}

resetApi()
