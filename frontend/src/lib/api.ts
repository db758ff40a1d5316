// Typed calls to the Go services bound by Wails (docs/desktop-api.md). Wails exposes every bound
// method as window.go.app.<Service>.<Method>(…), returning a promise; a Go error arrives as a
// rejection carrying its message.

import type {
  ComparisonPage,
  ComparisonSummary,
  Confirmation,
  DataNode,
  PresetMode,
  RulesState,
  SessionInfo,
  Settings as SettingsValue,
  Source,
  SyncStatus,
} from './types'
import { messageOf } from './errors'
import * as norm from './normalize'

type Bound = (...args: unknown[]) => Promise<unknown>

declare global {
  interface Window {
    go?: { app?: Record<string, Record<string, Bound> | undefined> }
  }
}

/** An error whose message can be shown to the user as it is. */
export class ServiceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ServiceError'
  }
}

async function call<T>(service: string, method: string, ...args: unknown[]): Promise<T> {
  const fn = window.go?.app?.[service]?.[method]
  if (typeof fn !== 'function') {
    throw new ServiceError(`Ferry's ${service}.${method} is not available in this window`)
  }
  try {
    return (await fn(...args)) as T
  } catch (err) {
    throw new ServiceError(messageOf(err))
  }
}

export const Settings = {
  get: () => call<SettingsValue>('Settings', 'Get'),
  save: (s: SettingsValue) => call<void>('Settings', 'Save', s),
  version: () => call<string>('Settings', 'Version'),
}

export const Sessions = {
  create: () => call<SessionInfo>('Sessions', 'Create').then((s) => norm.session(s)!),
  join: (id: string, password: string) =>
    call<SessionInfo>('Sessions', 'Join', id, password).then((s) => norm.session(s)!),
  quit: () => call<void>('Sessions', 'Quit'),
  current: () => call<SessionInfo | null>('Sessions', 'Current').then(norm.session),
}

export const Data = {
  nodes: () => call<DataNode[] | null>('Data', 'Nodes').then(norm.nodes),
  addNode: () => call<DataNode>('Data', 'AddNode').then(norm.node),
  removeNode: (code: string) => call<void>('Data', 'RemoveNode', code),
  addSource: (node: string, path: string) => call<Source>('Data', 'AddSource', node, path),
  removeSource: (code: string) => call<void>('Data', 'RemoveSource', code),
  pickFolder: () => call<string>('Data', 'PickFolder'),
  pickFile: () => call<string>('Data', 'PickFile'),
}

export const Inventory = {
  start: () => call<void>('Inventory', 'Start'),
}

export const Comparison = {
  summary: () => call<ComparisonSummary>('Comparison', 'Summary').then(norm.summary),
  page: (filter: string, offset: number, limit: number) =>
    call<ComparisonPage>('Comparison', 'Page', filter, offset, limit).then(norm.page),
  addTargetedAction: (path: string, op: string, source: string, targets: string[]) =>
    call<ComparisonSummary>('Comparison', 'AddTargetedAction', path, op, source, targets).then(norm.summary),
  removeTargetedActions: (path: string) =>
    call<ComparisonSummary>('Comparison', 'RemoveTargetedActions', path).then(norm.summary),
}

export const Rules = {
  get: () => call<RulesState>('Rules', 'Get').then(norm.rules),
  usePreset: (mode: PresetMode) => call<RulesState>('Rules', 'UsePreset', mode).then(norm.rules),
  save: (text: string) => call<RulesState>('Rules', 'Save', text).then(norm.rules),
}

export const Synchronization = {
  confirmation: () => call<Confirmation>('Synchronization', 'Confirmation').then(norm.confirmation),
  allowDeletions: (revision: number) => call<void>('Synchronization', 'AllowDeletions', revision),
  start: () => call<void>('Synchronization', 'Start'),
  abort: () => call<void>('Synchronization', 'Abort'),
  status: () => call<SyncStatus>('Synchronization', 'Status').then(norm.syncStatus),
}

export const Diagnostics = {
  /** Whether measurements are wanted; false when the service is not bound. */
  enabled: async (): Promise<boolean> => {
    try {
      return (await call<boolean>('Diagnostics', 'Enabled')) === true
    } catch {
      return false
    }
  },
  report: (name: string, data: string) => call<void>('Diagnostics', 'Report', name, data),
}
