// Go encodes a nil slice or map as null: these put empty ones in their place, so the screens
// can trust the types.

import type {
  ComparisonPage,
  ComparisonSummary,
  Confirmation,
  DataNode,
  Item,
  NodeProgress,
  RulesState,
  SessionInfo,
  SyncStatus,
} from './types'

export function session(s: SessionInfo | null): SessionInfo | null {
  return s ? { ...s, members: (s.members ?? []).map((m) => ({ ...m, nodes: m.nodes ?? [] })) } : null
}

export function node(n: DataNode): DataNode {
  return { ...n, sources: n.sources ?? [] }
}

export function nodes(list: DataNode[] | null): DataNode[] {
  return (list ?? []).map(node)
}

export function progress(list: NodeProgress[] | null): NodeProgress[] {
  return (list ?? []).map((p) => ({ ...p, skipped: p.skipped ?? {} }))
}

export function summary(s: ComparisonSummary): ComparisonSummary {
  return { ...s, parts: s.parts ?? [] }
}

function item(it: Item): Item {
  return {
    ...it,
    cells: it.cells ?? {},
    actions: (it.actions ?? []).map((a) => ({ ...a, targets: a.targets ?? [] })),
  }
}

export function page(p: ComparisonPage): ComparisonPage {
  return { ...p, items: (p.items ?? []).map(item) }
}

export function rules(r: RulesState): RulesState {
  return { ...r, text: r.text ?? '', presets: r.presets ?? [], errors: r.errors ?? [] }
}

export function confirmation(c: Confirmation): Confirmation {
  return {
    ...c,
    destinations: c.destinations ?? [],
    deletions: c.deletions ?? [],
    overLimit: !!c.overLimit,
    replaces: c.replaces ?? 0,
    versions: c.versions ?? undefined,
    conflicts: (c.conflicts ?? []).map((k) => ({ ...k, kept: k.kept ?? [] })),
  }
}

export function syncStatus(s: SyncStatus): SyncStatus {
  return { ...s, errors: s.errors ?? [], items: s.items ?? [] }
}
