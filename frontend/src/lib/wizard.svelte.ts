// The state of the wizard: where the session stands, which steps are open, and what the runtime
// events said last. One Wizard lives in App and is handed to every screen.

import * as api from './api'
import { offEvents, onEvent } from './events'
import * as norm from './normalize'
import { RateMeter } from './rate.svelte'
import {
  eventNames,
  type ComparisonSummary,
  type DataNode,
  type NodeProgress,
  type ProfileEdit,
  type ProfileInfo,
  type ProfileInvitation,
  type ProfileWaiting,
  type PresetMode,
  type SessionInfo,
  type Settings,
  type SyncEvent,
  type TrustQuestion,
  type SyncStatus,
} from './types'

export type Step = 'start' | 'data' | 'inventory' | 'comparison' | 'rules' | 'synchronize' | 'done'

export const steps: readonly { id: Step; label: string }[] = [
  { id: 'start', label: 'Start' },
  { id: 'data', label: 'Data' },
  { id: 'inventory', label: 'Inventory' },
  { id: 'comparison', label: 'Comparison' },
  { id: 'rules', label: 'Rules' },
  { id: 'synchronize', label: 'Synchronize' },
  { id: 'done', label: 'Done' },
]

/**
 * How far the session went: none (no session), session (declaring data), inventory (running or
 * finished), compared, syncing, synced.
 */
export type Phase = 'none' | 'session' | 'inventory' | 'compared' | 'syncing' | 'synced'

export type InventoryState = { running: boolean; done: boolean; error: string; nodes: NodeProgress[] }

/**
 * How the Data step declares the data: two folders, from one to the other (the common case), or
 * nodes and sources (the general one).
 */
export type DataMode = 'folders' | 'nodes'

/** The node codes of the folders mode: the folder copied from, and the one copied to. */
export const fromNode = 'A'
export const toNode = 'B'

const idleInventory = (): InventoryState => ({ running: false, done: false, error: '', nodes: [] })

export class Wizard {
  #step = $state<Step>('start')
  /** The steps opened since the session began: a step's mark needs its visit. */
  visited = $state<ReadonlySet<Step>>(new Set(['start']))
  dataMode = $state<DataMode>('folders')
  /** The preset the folders mode puts in force. */
  preset = $state<PresetMode>('mirror')
  phase = $state<Phase>('none')
  settings = $state<Settings>({ serverURL: '', theme: 'system', maxDelete: '', versions: '', versionsKeep: 0, includeHidden: false })
  version = $state('')
  session = $state<SessionInfo | null>(null)
  nodes = $state<DataNode[]>([])
  inventory = $state<InventoryState>(idleInventory())
  summary = $state<ComparisonSummary | null>(null)
  sync = $state<SyncStatus | null>(null)
  abortRequested = $state(false)
  /** When this window saw the synchronization start and end (ms since the epoch), 0 when unknown. */
  syncStartedAt = $state(0)
  syncEndedAt = $state(0)
  readonly rate = new RateMeter(5000)
  /** A problem found while restoring the state at start, shown on the Start screen. */
  loadError = $state('')
  /** The saved profiles; the Profiles screen opens at start when there are some. */
  profiles = $state<ProfileInfo[]>([])
  /** The profile the open session came from, "" when none. */
  profile = $state('')
  /** The user chose a new synchronization over the profiles. */
  startNew = $state(false)
  /** Quitting would abort the running synchronization: the window asks first. */
  quitAsked = $state(false)
  /** A shared profile's run waiting for its members, null when none waits. */
  waiting = $state<ProfileWaiting | null>(null)
  /** The shared profiles whose members wait for this computer (looked up while no session is open). */
  invitations = $state<ProfileInvitation[]>([])
  /** Joins waiting for this computer's user to compare safety words, oldest first. */
  trustQuestions = $state<TrustQuestion[]>([])

  #unsubscribe: (() => void)[] = []
  /** A new synchronization goes straight on to the comparison when its inventory ends. */
  #compareWhenDone = false
  /** A profile's run goes on to the confirmation when its inventory ends. */
  #confirmWhenDone = false
  #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  get step(): Step {
    return this.#step
  }

  set step(step: Step) {
    this.#step = step
    if (!this.visited.has(step)) this.visited = new Set([...this.visited, step])
  }

  /** Whether the data is two folders, one copied to the other (then the folders' words apply). */
  get folders(): boolean {
    if (this.dataMode !== 'folders') return false
    const others = (this.session?.members ?? []).filter((m) => !m.self).length
    return others === 0 && this.nodes.every((n) => (n.code === fromNode || n.code === toNode) && n.sources.length <= 1)
  }

  /** What the user calls a part of the comparison (a node code, or a source code such as A1). */
  partLabel(part: string): string {
    if (this.folders) {
      if (part === fromNode) return 'From'
      if (part === toNode) return 'To'
    }
    return /\d$/.test(part) ? `Source ${part}` : `Node ${part}`
  }

  /** Listens to the runtime events and restores what the Go side knows (the webview may reload). */
  async init(): Promise<void> {
    this.#listen()
    await this.loadProfiles().catch(() => {})
    const [settings, version, session] = await Promise.allSettled([
      api.Settings.get(),
      api.Settings.version(),
      api.Sessions.current(),
    ])
    if (settings.status === 'fulfilled' && settings.value) this.settings = settings.value
    if (version.status === 'fulfilled') this.version = version.value
    if (session.status === 'rejected') {
      this.loadError = (session.reason as Error).message
      return
    }
    if (!session.value) return
    this.session = session.value
    this.phase = 'session'
    await this.refreshNodes().catch(() => {})
    // A reloaded webview: nodes other than two folders are the nodes mode's.
    this.dataMode =
      this.nodes.length === 0 ||
      (this.nodes.every((n) => (n.code === fromNode || n.code === toNode) && n.sources.length <= 1) &&
        this.nodes.every((n) => n.sources.every((src) => src.kind === 'folder')))
        ? 'folders'
        : 'nodes'
    const status = await api.Synchronization.status().catch(() => null)
    if (status && status.state !== 'idle') {
      // The steps before were gone through in the window before the reload.
      this.visited = new Set(steps.map((s) => s.id))
      this.sync = status
      if (status.state === 'running') {
        this.phase = 'syncing'
        this.step = 'synchronize'
      } else {
        this.phase = 'synced'
        this.step = 'done'
      }
      return
    }
    const summary = await api.Comparison.summary().catch(() => null)
    if (summary) {
      this.summary = summary
      this.phase = 'compared'
      this.inventory = { ...idleInventory(), done: true }
      this.step = 'comparison'
      return
    }
    this.step = 'data'
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off()
    this.#unsubscribe = []
    offEvents(...eventNames)
  }

  #listen(): void {
    this.dispose()
    this.#unsubscribe = [
      onEvent('session:changed', (info) => {
        if (info) this.session = norm.session(info)
      }),
      onEvent('inventory:progress', (progress) => {
        this.waiting = null
        if (this.phase === 'session' || this.phase === 'compared' || this.phase === 'synced') {
          // Another member started the inventory.
          this.#enterInventory()
        }
        this.inventory.nodes = norm.progress(progress)
      }),
      onEvent('inventory:done', (done) => {
        if (this.phase !== 'inventory') this.#enterInventory()
        this.inventory.running = false
        this.inventory.done = true
        this.inventory.error = done?.error ?? ''
        if (this.#compareWhenDone) {
          this.#compareWhenDone = false
          // On failure the Compare button stays, with the inventory's outcome.
          if (!this.inventory.error) void this.compare().catch(() => {})
        }
        if (this.#confirmWhenDone) {
          this.#confirmWhenDone = false
          if (!this.inventory.error) void this.compare().then(() => this.go('synchronize'), () => {})
        }
      }),
      onEvent('sync:event', (ev) => this.#onSyncEvent(ev)),
      onEvent('sync:done', (status) => this.#onSyncEnd(status)),
      onEvent('profile:run', (name) => this.#onProfileRun(name)),
      onEvent('profile:waiting', (w) => {
        // Once every member joined, the inventory's screen says the rest.
        this.waiting = w && w.members.some((m) => !m.joined) ? w : null
      }),
      onEvent('window:close-requested', () => {
        if (this.phase === 'syncing') this.quitAsked = true
      }),
      onEvent('trust:asked', (q) => {
        this.trustQuestions = [...this.trustQuestions, q]
      }),
      onEvent('trust:answered', ({ id }) => {
        this.trustQuestions = this.trustQuestions.filter((q) => q.id !== id)
      }),
    ]
  }

  #onSyncEvent(ev: SyncEvent): void {
    if (!ev?.status) return
    ev = { ...ev, status: norm.syncStatus(ev.status) }
    if (this.phase === 'synced' && ev.type !== 'started') return
    this.sync = ev.status
    switch (ev.type) {
      case 'started':
        this.phase = 'syncing'
        this.abortRequested = false
        this.syncStartedAt = this.#now()
        this.syncEndedAt = 0
        this.rate.reset()
        this.rate.add(this.#now(), ev.status.progress.syncedVolume)
        this.step = 'synchronize'
        break
      case 'progress':
        if (this.phase !== 'syncing') {
          this.phase = 'syncing'
          this.step = 'synchronize'
        }
        this.rate.add(this.#now(), ev.status.progress.syncedVolume)
        break
      case 'abort_requested':
        this.abortRequested = true
        break
      case 'ended':
        this.#onSyncEnd(ev.status)
        break
    }
  }

  #onSyncEnd(status: SyncStatus): void {
    if (!status) return
    this.sync = norm.syncStatus(status)
    if (this.phase === 'synced') return
    this.phase = 'synced'
    this.syncEndedAt = this.#now()
    this.quitAsked = false
    this.step = 'done'
  }

  /** The steps that can be opened now. */
  get unlocked(): ReadonlySet<Step> {
    switch (this.phase) {
      case 'none':
        return new Set(['start'])
      case 'session':
        return new Set(['start', 'data'])
      case 'inventory':
        return new Set(this.inventory.running ? ['start', 'inventory'] : ['start', 'data', 'inventory'])
      case 'compared':
        return new Set(['start', 'data', 'inventory', 'comparison', 'rules', 'synchronize'])
      case 'syncing':
        return new Set(['start', 'synchronize'])
      case 'synced':
        return new Set(['start', 'data', 'done'])
    }
  }

  /** Why a step cannot be opened now, "" when it can. */
  lockReason(step: Step): string {
    if (this.unlocked.has(step)) return ''
    if (this.phase === 'none') return 'Create or join a session first'
    if (this.phase === 'syncing') return 'The synchronization is running'
    if (step === 'data') return 'The inventory is running'
    if (step === 'inventory') return 'Start the inventory from Data'
    if (step === 'done') return 'Synchronize first'
    return 'Compare the inventories first'
  }

  /** Whether a step's work is behind the session (its check mark in the step bar). */
  completed(step: Step): boolean {
    const after = (...phases: Phase[]) => phases.includes(this.phase)
    switch (step) {
      case 'start':
        return this.session !== null
      case 'data':
        return after('inventory', 'compared', 'syncing', 'synced')
      case 'inventory':
        return after('compared', 'syncing', 'synced') || (this.phase === 'inventory' && this.inventory.done && !this.inventory.error)
      case 'comparison':
      case 'rules':
        return after('syncing', 'synced') && this.visited.has(step)
      case 'synchronize':
        return after('synced')
      case 'done':
        return false
    }
  }

  go(step: Step): void {
    if (this.unlocked.has(step)) this.step = step
  }

  async createSession(): Promise<void> {
    this.#enterSession(await api.Sessions.create())
  }

  async joinSession(id: string, password: string): Promise<void> {
    this.#enterSession(await api.Sessions.join(id, password))
  }

  #enterSession(info: SessionInfo): void {
    this.#forget()
    this.session = info
    this.phase = 'session'
    this.loadError = ''
    this.profile = ''
    void this.refreshNodes().catch(() => {})
  }

  /** Forgets everything of the session before: a new one starts empty. */
  #forget(): void {
    this.#compareWhenDone = false
    this.nodes = []
    this.inventory = idleInventory()
    this.summary = null
    this.sync = null
    this.abortRequested = false
    this.syncStartedAt = 0
    this.syncEndedAt = 0
    this.rate.reset()
    this.dataMode = 'folders'
    this.preset = 'mirror'
    this.visited = new Set(['start'])
  }

  async quitSession(): Promise<void> {
    await api.Sessions.quit()
    this.waiting = null
    this.#forget()
    this.session = null
    this.phase = 'none'
    this.step = 'start'
    this.profile = ''
    this.startNew = false
    await this.loadProfiles().catch(() => {})
  }

  /** Quits Ferry (Ctrl+Q); during a synchronization, asks first (quitAsked). */
  async quit(force = false): Promise<void> {
    if (!force && this.phase === 'syncing') {
      this.quitAsked = true
      return
    }
    this.quitAsked = false
    await api.Window.quit()
  }

  /** Answers a trust question: the words are the same on both computers (trusted) or not. */
  async answerTrust(id: number, trusted: boolean): Promise<void> {
    this.trustQuestions = this.trustQuestions.filter((q) => q.id !== id)
    await api.Sessions.answerTrust(id, trusted)
  }

  async saveSettings(s: Settings): Promise<void> {
    await api.Settings.save(s)
    this.settings = s
  }

  async refreshNodes(): Promise<void> {
    this.nodes = await api.Data.nodes()
  }

  /** Any change to the data makes an earlier comparison stale. */
  #dataChanged(): void {
    if (this.phase === 'compared' || this.phase === 'synced' || (this.phase === 'inventory' && !this.inventory.running)) {
      this.phase = 'session'
      this.summary = null
      this.inventory = idleInventory()
    }
  }

  async addNode(): Promise<DataNode> {
    const node = await api.Data.addNode()
    this.#dataChanged()
    await this.refreshNodes()
    return node
  }

  async removeNode(code: string): Promise<void> {
    await api.Data.removeNode(code)
    this.#dataChanged()
    await this.refreshNodes()
  }

  async addSource(node: string, path: string): Promise<void> {
    await api.Data.addSource(node, path)
    this.#dataChanged()
    await this.refreshNodes()
  }

  async removeSource(code: string): Promise<void> {
    await api.Data.removeSource(code)
    this.#dataChanged()
    await this.refreshNodes()
  }

  /**
   * Makes node code hold the folder path alone (the folders mode), adding the node when missing.
   * Rejects with the reason when the folder cannot be a source; the node then holds none.
   */
  async setFolder(code: typeof fromNode | typeof toNode, path: string): Promise<void> {
    const find = () => this.nodes.find((n) => n.code === code)
    const before = find()
    if (before?.sources.length === 1 && before.sources[0].path === path) return
    // Codes are given in order (A, B): adding nodes until there is code's.
    while (!find()) {
      if (this.nodes.length >= 2) throw new Error(`There is no node ${code}: use Advanced to set the nodes`)
      await this.addNode()
    }
    const node = find()!
    for (const src of node.sources) await this.removeSource(src.code)
    await this.addSource(code, path)
  }

  #enterInventory(): void {
    this.phase = 'inventory'
    this.summary = null
    this.inventory = { ...idleInventory(), running: true }
    this.step = 'inventory'
  }

  async startInventory(): Promise<void> {
    // Start from a clean slate: events may arrive before the call returns, and they count.
    const before = this.inventory
    this.inventory = { ...idleInventory(), running: true }
    try {
      await api.Inventory.start()
    } catch (err) {
      this.inventory = before
      throw err
    }
    this.phase = 'inventory'
    this.summary = null
    this.step = 'inventory'
  }

  async compare(): Promise<void> {
    this.summary = await api.Comparison.summary()
    this.phase = 'compared'
    this.step = 'comparison'
  }

  async startSync(): Promise<void> {
    this.abortRequested = false
    await api.Synchronization.start()
  }

  async abortSync(): Promise<void> {
    await api.Synchronization.abort()
    this.abortRequested = true
  }

  /** Goes back to the same data for another run: the Data step shows it, and the inventory
   * starts from there, not behind the user's back. */
  newSynchronization(): void {
    this.phase = 'session'
    this.inventory = idleInventory()
    this.summary = null
    this.sync = null
    this.abortRequested = false
    this.syncStartedAt = 0
    this.syncEndedAt = 0
    this.visited = new Set(['start'])
    this.step = 'data'
  }

  /** Inventories the same data again and opens its comparison (Nothing to do's Rescan). */
  async rescan(): Promise<void> {
    this.#compareWhenDone = true
    try {
      await this.startInventory()
    } catch (err) {
      this.#compareWhenDone = false
      throw err
    }
  }

  /** Whether the start shows the profiles rather than Create and Join. */
  get showProfiles(): boolean {
    return this.phase === 'none' && !this.startNew && this.profiles.length > 0
  }

  async loadProfiles(): Promise<void> {
    this.profiles = await api.Profiles.list()
  }

  /** Runs a profile: a new session with its nodes and rules, inventoried and compared, up to
   * the confirmation. */
  async runProfile(name: string): Promise<void> {
    this.#confirmWhenDone = true
    this.inventory = { ...idleInventory(), running: true }
    try {
      await api.Profiles.run(name)
    } catch (err) {
      this.#confirmWhenDone = false
      if (this.phase === 'inventory') {
        // The session opened (profile:run) but its inventory did not start: say so there.
        this.inventory = { ...idleInventory(), done: true, error: (err as Error).message }
        throw err
      }
      this.inventory = idleInventory()
      throw err
    }
    await this.#enterProfile(name)
    // inventory:done may have come first.
    if (this.phase === 'none' || this.phase === 'session') {
      this.phase = 'inventory'
      this.step = 'inventory'
    }
  }

  /** Opens a profile's nodes and rules in a new session, to edit them. */
  async openProfile(name: string): Promise<void> {
    await api.Profiles.open(name)
    this.inventory = idleInventory()
    await this.#enterProfile(name)
    this.phase = 'session'
    this.step = 'data'
  }

  /** A profile's run started (here, or from the tray): follow it up to the confirmation. */
  #onProfileRun(name: string): void {
    this.#confirmWhenDone = true
    this.profile = name
    this.summary = null
    this.sync = null
    this.abortRequested = false
    this.phase = 'inventory'
    this.inventory = { ...idleInventory(), running: true }
    this.step = 'inventory'
    void api.Sessions.current().then((s) => (this.session = s ?? this.session), () => {})
    void this.refreshNodes().catch(() => {})
  }

  async #enterProfile(name: string): Promise<void> {
    this.session = await api.Sessions.current().catch(() => this.session)
    this.summary = null
    this.sync = null
    this.abortRequested = false
    this.loadError = ''
    this.profile = name
    await this.refreshNodes().catch(() => {})
  }

  /** Saves the session's nodes and rules as a profile (after a run, with the run as its last). */
  async saveProfile(name: string): Promise<void> {
    await api.Profiles.save(name)
    this.profile = name
    await this.loadProfiles().catch(() => {})
  }

  /** Changes a profile's name, preset and safety settings. */
  async editProfile(name: string, edit: ProfileEdit): Promise<void> {
    await api.Profiles.edit(name, edit)
    if (this.profile === name) this.profile = edit.name
    await this.loadProfiles()
  }

  /** Stops waiting for a shared profile's members: its invitation goes with the session. */
  async cancelWaiting(): Promise<void> {
    await this.quitSession()
  }

  /** Looks once for the shared profiles whose members wait for this computer. */
  async findInvitations(): Promise<void> {
    if (this.phase !== 'none') {
      this.invitations = []
      return
    }
    const found = (await api.Profiles.invitations()) ?? []
    // A session opened meanwhile: what was found is for the screens that are gone.
    this.invitations = this.phase === 'none' ? found : []
  }

  /**
   * Looks for invitations every period ms while no session is open (the Profiles and Start
   * screens); returns the function that stops it.
   */
  watchInvitations(period = 4000): () => void {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const look = async () => {
      if (stopped) return
      await this.findInvitations().catch(() => {})
      if (!stopped) timer = setTimeout(() => void look(), period)
    }
    void look()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }

  /** Joins the run of a shared profile that another member started: no password, no question;
   * the run follows that member up to the summary. After a failure the invitations are read
   * again: one that leads nowhere is no longer listed. */
  async joinProfile(name: string): Promise<void> {
    this.#confirmWhenDone = false
    this.inventory = { ...idleInventory(), running: true }
    try {
      await api.Profiles.join(name)
    } catch (err) {
      this.inventory = idleInventory()
      await this.findInvitations().catch(() => {})
      throw err
    }
    this.invitations = []
    await this.#enterProfile(name)
    this.#confirmWhenDone = false // the member that invited confirms
    if (this.phase === 'none' || this.phase === 'session') {
      this.phase = 'inventory'
      this.step = 'inventory'
    }
  }

  async deleteProfile(name: string): Promise<void> {
    await api.Profiles.delete(name)
    await this.loadProfiles()
  }
}
