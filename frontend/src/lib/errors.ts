/** The text to show for anything thrown or rejected: Wails rejects with the Go error's message. */
export function messageOf(err: unknown): string {
  if (typeof err === 'string') return err || 'Something went wrong'
  if (err instanceof Error) return err.message || 'Something went wrong'
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message
  return 'Something went wrong'
}
