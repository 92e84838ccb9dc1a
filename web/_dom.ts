// Small DOM helpers.

/** The element with this id (throws when the page lacks it). */
export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

/** A new element with text content and attributes. */
export function el(
  tag: string,
  text = "",
  attrs: Record<string, string> = {},
): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** Replaces the children of `parent` by one `<li>` per line. */
export function fillList(parent: HTMLElement, lines: readonly string[]): void {
  // Appended one by one: a spread of every line into one call overflows the stack for long lists.
  parent.replaceChildren();
  for (const l of lines) parent.append(el("li", l));
}
