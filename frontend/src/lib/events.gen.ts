// Generated from EventPayloads (app/events.go) by `make bindings`. DO NOT EDIT.
// The payloads of the runtime events; the structs that no service method returns are declared
// here, the others are the generated models (wailsjs/go/models.ts) as types.ts exports them.

import type * as T from './types'

export type InventoryDone = {
  error?: string
}

export type NodeProgress = {
  node: string
  files: number
  dirs: number
  bytes: number
  skipped: Record<string, number>
  hashedFiles: number
  hashedBytes: number
  done: boolean
  error?: string
}

export type ProfileWaiting = {
  profile: string
  members: WaitingMember[]
}

export type SyncEvent = {
  type: string
  status: T.SyncStatus
}

export type TrustAnswered = {
  id: number
  trusted: boolean
}

export type TrustQuestion = {
  id: number
  role: string
  computer: string
  words: string[]
}

export type WaitingMember = {
  name: string
  joined: boolean
}

export type EventPayloads = {
  'session:changed': T.SessionInfo | null
  'inventory:progress': NodeProgress[]
  'inventory:done': InventoryDone
  'sync:event': SyncEvent
  'sync:done': T.SyncStatus
  'profile:run': string
  'profile:waiting': ProfileWaiting
  'trust:asked': TrustQuestion
  'trust:answered': TrustAnswered
  'window:close-requested': T.SyncStatus
}
