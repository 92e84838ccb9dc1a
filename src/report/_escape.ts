// HTML escaping for text and attribute values.

/** Escapes `& < > " '` so any string is safe as HTML text or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
