// A stand-in for the Wails runtime in tests: an in-memory event bus and a clipboard.
import { vi } from 'vitest'

type Handler = (...data: unknown[]) => void

const handlers = new Map<string, Set<Handler>>()

export function EventsOnMultiple(name: string, cb: Handler, max: number): () => void {
  let left = max
  const h: Handler = (...data) => {
    cb(...data)
    if (left > 0 && --left === 0) off()
  }
  const off = () => handlers.get(name)?.delete(h)
  if (!handlers.has(name)) handlers.set(name, new Set())
  handlers.get(name)!.add(h)
  return off
}

export function EventsOn(name: string, cb: Handler): () => void {
  return EventsOnMultiple(name, cb, -1)
}

export function EventsOff(name: string, ...more: string[]): void {
  for (const n of [name, ...more]) handlers.delete(n)
}

export function EventsEmit(name: string, ...data: unknown[]): void {
  for (const h of [...(handlers.get(name) ?? [])]) h(...data)
}

export const ClipboardSetText = vi.fn(async (_text: string) => true)

/** Sends an event as the Go side would. */
export const emit = EventsEmit

export function listeners(name: string): number {
  return handlers.get(name)?.size ?? 0
}

export function resetRuntime(): void {
  handlers.clear()
  ClipboardSetText.mockReset()
  ClipboardSetText.mockImplementation(async () => true)
}
