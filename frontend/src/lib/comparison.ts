// How comparison items and actions read on screen.

import type { ActionOp, Item, ItemAction } from './types'

/**
 * The letter of each part's content (or date) group: parts with the same letter hold the same
 * content (or date). Short values from Go are letters already; anything longer (a key) is turned
 * into letters in part order.
 */
export function groupLetters(item: Item, parts: string[], key: 'content' | 'date'): Record<string, string> {
  const out: Record<string, string> = {}
  const letters = new Map<string, string>()
  for (const part of parts) {
    const cell = item.cells[part]
    const value = cell?.present ? cell[key] : ''
    if (!value) continue
    if (value.length <= 2) {
      out[part] = value.toUpperCase()
      continue
    }
    let letter = letters.get(value)
    if (!letter) {
      letter = String.fromCharCode(65 + (letters.size % 26))
      letters.set(value, letter)
    }
    out[part] = letter
  }
  return out
}

/** The class giving a group letter its colour. */
export function letterClass(letter: string): string {
  const first = letter.charAt(0).toUpperCase()
  const i = first.charCodeAt(0) - 65
  return i >= 0 && i < 26 ? `letter-${String.fromCharCode(65 + (i % 6))}` : ''
}

export const opLabels: Record<ActionOp, string> = {
  copy: 'Copy',
  'copy-content': 'Copy content',
  'copy-dates': 'Copy dates',
  create: 'Create',
  delete: 'Delete',
  'do-nothing': 'Do nothing',
}

export const opHelp: Record<ActionOp, string> = {
  copy: 'Content and dates of the source onto the targets',
  'copy-content': 'Content only; the targets’ dates become now',
  'copy-dates': 'Creation and last write times only; the targets must exist',
  create: 'Create the folder on the targets',
  delete: 'Delete on the targets',
  'do-nothing': 'Leave the item alone: no rule acts on it',
}

export function opLabel(op: string): string {
  return opLabels[op as ActionOp] ?? op
}

/** Whether the operation reads from a source part. */
export function needsSource(op: string): boolean {
  return op === 'copy' || op === 'copy-content' || op === 'copy-dates'
}

/** Whether the operation acts on target parts. */
export function needsTargets(op: string): boolean {
  return op !== 'do-nothing'
}

/** "copy A → B, C", "delete on B", "do nothing". */
export function actionText(a: ItemAction): string {
  const targets = a.targets.join(', ')
  if (a.op === 'do-nothing') return 'do nothing'
  if (needsSource(a.op)) return `${opLabel(a.op).toLowerCase()} ${a.source} → ${targets}`
  return `${opLabel(a.op).toLowerCase()} on ${targets}`
}
