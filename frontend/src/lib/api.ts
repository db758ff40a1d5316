// Typed calls to the Go services bound by Wails (docs/desktop-api.md), through the bindings
// Wails generates from them (wailsjs/go/app, `make bindings`): a service's signature the frontend
// does not follow fails svelte-check. Each bound method is window.go.app.<Service>.<Method>(…),
// returning a promise; a Go error arrives as a rejection carrying its message.

import * as ComparisonGo from '../../wailsjs/go/app/Comparison'
import * as DataGo from '../../wailsjs/go/app/Data'
import * as DiagnosticsGo from '../../wailsjs/go/app/Diagnostics'
import * as InventoryGo from '../../wailsjs/go/app/Inventory'
import * as ProfilesGo from '../../wailsjs/go/app/Profiles'
import * as RulesGo from '../../wailsjs/go/app/Rules'
import * as SessionsGo from '../../wailsjs/go/app/Sessions'
import * as SettingsGo from '../../wailsjs/go/app/Settings'
import * as SynchronizationGo from '../../wailsjs/go/app/Synchronization'
import * as WindowGo from '../../wailsjs/go/app/Window'
import type {
  ComparisonPage,
  DataNode,
  Plain,
  PresetMode,
  ProfileEdit,
  ProfileInfo,
  ProfileInvitation,
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

/** The generated binding fn of service.method, rejecting with a ServiceError. It resolves to the
 * model as JSON, or to T, the model with a few strings narrowed (types.ts), which must fit it. */
function bind<A extends unknown[], R>(service: string, method: string, fn: (...args: A) => Promise<R>) {
  return async <T extends Plain<R> = Plain<R>>(...args: A): Promise<T> => {
    if (typeof window.go?.app?.[service]?.[method] !== 'function') {
      throw new ServiceError(`Ferry's ${service}.${method} is not available in this window`)
    }
    try {
      return (await fn(...args)) as unknown as T
    } catch (err) {
      throw new ServiceError(messageOf(err))
    }
  }
}

export const Settings = {
  get: () => bind('Settings', 'Get', SettingsGo.Get)<SettingsValue>(),
  save: (s: SettingsValue) => bind('Settings', 'Save', SettingsGo.Save)(s),
  version: bind('Settings', 'Version', SettingsGo.Version),
}

export const Sessions = {
  create: () => bind('Sessions', 'Create', SessionsGo.Create)().then((s) => norm.session(s)!),
  join: (id: string, password: string) =>
    bind('Sessions', 'Join', SessionsGo.Join)(id, password).then((s) => norm.session(s)!),
  quit: bind('Sessions', 'Quit', SessionsGo.Quit),
  current: () => bind('Sessions', 'Current', SessionsGo.Current)<SessionInfo>().then(norm.session),
  answerTrust: bind('Sessions', 'AnswerTrust', SessionsGo.AnswerTrust),
}

export const Data = {
  nodes: () => bind('Data', 'Nodes', DataGo.Nodes)<DataNode[]>().then(norm.nodes),
  addNode: () => bind('Data', 'AddNode', DataGo.AddNode)<DataNode>().then(norm.node),
  removeNode: bind('Data', 'RemoveNode', DataGo.RemoveNode),
  addSource: (node: string, path: string) => bind('Data', 'AddSource', DataGo.AddSource)<Source>(node, path),
  removeSource: bind('Data', 'RemoveSource', DataGo.RemoveSource),
  pickFolder: bind('Data', 'PickFolder', DataGo.PickFolder),
  pickFile: bind('Data', 'PickFile', DataGo.PickFile),
  createFolder: bind('Data', 'CreateFolder', DataGo.CreateFolder),
}

export const Inventory = {
  start: bind('Inventory', 'Start', InventoryGo.Start),
}

export const Comparison = {
  summary: () => bind('Comparison', 'Summary', ComparisonGo.Summary)().then(norm.summary),
  page: (filter: string, offset: number, limit: number) =>
    bind('Comparison', 'Page', ComparisonGo.Page)<ComparisonPage>(filter, offset, limit).then(norm.page),
  addTargetedAction: (path: string, op: string, source: string, targets: string[]) =>
    bind('Comparison', 'AddTargetedAction', ComparisonGo.AddTargetedAction)(path, op, source, targets).then(norm.summary),
  removeTargetedActions: (path: string) =>
    bind('Comparison', 'RemoveTargetedActions', ComparisonGo.RemoveTargetedActions)(path).then(norm.summary),
}

export const Rules = {
  get: () => bind('Rules', 'Get', RulesGo.Get)().then(norm.rules),
  usePreset: (mode: PresetMode) => bind('Rules', 'UsePreset', RulesGo.UsePreset)(mode).then(norm.rules),
  save: (text: string) => bind('Rules', 'Save', RulesGo.Save)(text).then(norm.rules),
}

export const Synchronization = {
  confirmation: () => bind('Synchronization', 'Confirmation', SynchronizationGo.Confirmation)().then(norm.confirmation),
  allowDeletions: bind('Synchronization', 'AllowDeletions', SynchronizationGo.AllowDeletions),
  start: bind('Synchronization', 'Start', SynchronizationGo.Start),
  abort: bind('Synchronization', 'Abort', SynchronizationGo.Abort),
  status: () => bind('Synchronization', 'Status', SynchronizationGo.Status)<SyncStatus>().then(norm.syncStatus),
}

export const Profiles = {
  list: () => bind('Profiles', 'List', ProfilesGo.List)<ProfileInfo[]>().then((ps) => ps ?? []),
  save: (name: string) => bind('Profiles', 'Save', ProfilesGo.Save)<ProfileInfo>(name),
  edit: (name: string, edit: ProfileEdit) => bind('Profiles', 'Edit', ProfilesGo.Edit)<ProfileInfo>(name, edit),
  delete: bind('Profiles', 'Delete', ProfilesGo.Delete),
  open: bind('Profiles', 'Open', ProfilesGo.Open),
  run: bind('Profiles', 'Run', ProfilesGo.Run),
  invitations: () => bind('Profiles', 'Invitations', ProfilesGo.Invitations)<ProfileInvitation[]>().then((is) => is ?? []),
  join: bind('Profiles', 'Join', ProfilesGo.Join),
}

export const Window = {
  quit: bind('Window', 'Quit', WindowGo.Quit),
}

export const Diagnostics = {
  /** Whether measurements are wanted; false when the service is not bound. */
  enabled: async (): Promise<boolean> => {
    try {
      return (await bind('Diagnostics', 'Enabled', DiagnosticsGo.Enabled)()) === true
    } catch {
      return false
    }
  },
  report: bind('Diagnostics', 'Report', DiagnosticsGo.Report),
}
