// The runtime events of docs/desktop-api.md, typed.

import { ClipboardSetText, EventsOff, EventsOn } from '../../wailsjs/runtime/runtime'
import type { EventMap, EventName } from './types'

/** Calls handler for every event of that name until the returned function is called. */
export function onEvent<K extends EventName>(name: K, handler: (payload: EventMap[K]) => void): () => void {
  return EventsOn(name, (payload: EventMap[K]) => handler(payload))
}

/** Drops every listener of these events. */
export function offEvents(...names: EventName[]): void {
  if (names.length === 0) return
  const [first, ...rest] = names
  EventsOff(first, ...rest)
}

/** Puts text on the clipboard: through the desktop runtime, else the browser's clipboard. */
export async function copyText(text: string): Promise<void> {
  try {
    if (await ClipboardSetText(text)) return
  } catch {
    // no desktop runtime: fall through to the browser
  }
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text)
    return
  }
  throw new Error('The clipboard is not available')
}
