// Focus helpers, used as attachments: {@attach autofocus} or {@attach focusWhen(ready)}.

import type { Attachment } from 'svelte/attachments'

/** Focuses the element once it is in the document. */
export const autofocus: Attachment<HTMLElement> = (node) => {
  node.focus()
}

/** Focuses the element whenever cond becomes true. */
export function focusWhen(cond: boolean): Attachment<HTMLElement> {
  return (node) => {
    if (cond) node.focus()
  }
}

const focusable =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'

/** The elements Tab can reach inside root, in order. */
export function tabbables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(focusable)].filter((el) => !el.hidden && !el.closest('[inert]'))
}
