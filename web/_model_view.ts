// What the page shows of an open model: facts, bytes by dtype, charts of where the parameters
// are, and a module table that sorts and filters.
import { type LoadedModel, modelFileBytes } from "../src/compress/load_model.ts";
import { inspect, type ModuleSummary } from "../src/model/inspect.ts";
import { el } from "./_dom.ts";

const SVG = "http://www.w3.org/2000/svg";

/** A compact count: 1234567 → "1.23 M". */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Bytes as kB/MB/GB. */
export function bytesText(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** A horizontal bar chart as SVG: one row per bar, the text after it. */
export function barChart(
  bars: readonly { label: string; value: number; text: string; tone?: "a" | "b" }[],
  title: string,
): SVGSVGElement {
  const row = 18, label = 200, width = 560, text = 110;
  const span = width - label - text;
  const max = Math.max(0, ...bars.map((b) => b.value));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "bars");
  svg.setAttribute("role", "img");
  svg.setAttribute("viewBox", `0 0 ${width} ${bars.length * row + 4}`);
  const t = document.createElementNS(SVG, "title");
  t.textContent = title;
  svg.append(t);
  bars.forEach((b, i) => {
    const y = i * row + 2;
    const g = document.createElementNS(SVG, "g");
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${b.label}: ${b.text}`;
    const l = document.createElementNS(SVG, "text");
    l.setAttribute("x", String(label - 6));
    l.setAttribute("y", String(y + row - 5));
    l.setAttribute("text-anchor", "end");
    l.textContent = b.label.length > 30 ? `…${b.label.slice(-29)}` : b.label;
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("class", b.tone ?? "a");
    r.setAttribute("x", String(label));
    r.setAttribute("y", String(y + 3));
    r.setAttribute("height", String(row - 6));
    r.setAttribute("width", (max > 0 ? (b.value / max) * span : 0).toFixed(1));
    const v = document.createElementNS(SVG, "text");
    v.setAttribute("x", String(label + span + 6));
    v.setAttribute("y", String(y + row - 5));
    v.textContent = b.text;
    g.append(tip, l, r, v);
    svg.append(g);
  });
  return svg;
}

/** A two-column table body from rows of cells. */
export function fillTable(table: HTMLElement, head: readonly string[], rows: readonly string[][]) {
  const thead = el("thead");
  const tr = el("tr");
  head.forEach((h, i) => tr.append(el("th", h, i === 0 ? {} : { class: "n" })));
  thead.append(tr);
  const tbody = el("tbody");
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c, i) => row.append(el("td", c, i === 0 ? {} : { class: "n" })));
    tbody.append(row);
  }
  table.replaceChildren(thead, tbody);
}

interface Row {
  readonly name: string;
  readonly type: string;
  readonly op: string;
  readonly shapes: string;
  readonly params: number;
}

/** The model view: facts, charts, and a module table that sorts and filters. */
export class ModelView {
  #rows: Row[] = [];
  #total = 0;
  #sort: { key: keyof Row | "share"; down: boolean } = { key: "params", down: true };
  #filter = "";

  constructor(
    private readonly parts: {
      facts: HTMLElement;
      dtypes: HTMLElement;
      types: HTMLElement;
      layers: HTMLElement;
      body: HTMLElement;
      head: HTMLElement;
      filter: HTMLInputElement;
      filterCount: HTMLElement;
    },
  ) {
    parts.filter.addEventListener("input", () => {
      this.#filter = parts.filter.value.trim().toLowerCase();
      this.#renderTable();
    });
    for (const b of parts.head.querySelectorAll<HTMLButtonElement>("button[data-sort]")) {
      b.setAttribute("aria-sort", b.dataset.sort === "params" ? "descending" : "none");
      b.addEventListener("click", () => {
        const key = b.dataset.sort as keyof Row | "share";
        this.#sort = {
          key,
          down: this.#sort.key === key ? !this.#sort.down : key === "params" || key === "share",
        };
        for (const o of parts.head.querySelectorAll("button[data-sort]")) {
          o.setAttribute("aria-sort", "none");
        }
        b.setAttribute("aria-sort", this.#sort.down ? "descending" : "ascending");
        this.#renderTable();
      });
    }
  }

  /** Shows a model. */
  show(m: LoadedModel): void {
    const s = inspect(m.graph);
    const byDtype = new Map<string, { elements: number; bytes: number }>();
    const byType = new Map<string, number>();
    this.#rows = s.modules.map((mod: ModuleSummary) => {
      let params = 0;
      for (const p of mod.params) {
        params += p.elements;
        const d = byDtype.get(p.dtype) ?? { elements: 0, bytes: 0 };
        d.elements += p.elements;
        d.bytes += p.bytes;
        byDtype.set(p.dtype, d);
      }
      byType.set(mod.type, (byType.get(mod.type) ?? 0) + params);
      return {
        name: mod.name,
        type: mod.type,
        op: mod.opType ?? "",
        shapes: mod.params.map((p) => `${p.name} ${p.dtype} [${p.shape.join(", ")}]`).join("; "),
        params,
      };
    });
    this.#total = s.elements;
    const data = m.format === "onnx" && m.external !== undefined
      ? [...m.external.files.keys()].join(", ")
      : m.format === "tfjs"
      ? `${m.files.size - 1} shard${m.files.size === 2 ? "" : "s"}`
      : "";
    fillTable(this.parts.facts, ["model", m.name], [
      ["format", m.format],
      ["file size", bytesText(modelFileBytes(m))],
      ["parameters", `${s.elements.toLocaleString("en-US")} (${count(s.elements)})`],
      ["parameter bytes", bytesText(s.bytes)],
      ["modules", String(s.modules.length)],
      ...(data === "" ? [] : [["files", data]]),
    ]);
    fillTable(
      this.parts.dtypes,
      ["dtype", "parameters", "bytes"],
      [...byDtype].sort((a, b) => b[1].bytes - a[1].bytes).map((
        [d, v],
      ) => [d, v.elements.toLocaleString("en-US"), bytesText(v.bytes)]),
    );
    const share = (n: number) => s.elements > 0 ? `${((100 * n) / s.elements).toFixed(1)}%` : "";
    this.parts.types.replaceChildren(barChart(
      [...byType].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).slice(0, 16).map((
        [t, n],
      ) => ({ label: t, value: n, text: `${count(n)} · ${share(n)}` })),
      "parameters by module type",
    ));
    this.parts.layers.replaceChildren(barChart(
      this.#rows.filter((r) => r.params > 0).sort((a, b) => b.params - a.params).slice(0, 24).map(
        (r) => ({
          label: r.name,
          value: r.params,
          text: `${count(r.params)} · ${share(r.params)}`,
        }),
      ),
      "parameters by layer",
    ));
    this.#renderTable();
  }

  /** Forgets the model. */
  clear(): void {
    this.#rows = [];
    this.parts.body.replaceChildren();
  }

  #renderTable(): void {
    const f = this.#filter;
    const rows = f === ""
      ? this.#rows.slice()
      : this.#rows.filter((r) =>
        r.name.toLowerCase().includes(f) || r.type.toLowerCase().includes(f) ||
        r.op.toLowerCase().includes(f)
      );
    const { key, down } = this.#sort;
    const k = key === "share" ? "params" : key;
    rows.sort((a, b) => {
      const x = a[k], y = b[k];
      const c = typeof x === "number" ? x - (y as number) : String(x).localeCompare(String(y));
      return down ? -c : c;
    });
    this.parts.filterCount.textContent = f === ""
      ? `${rows.length} modules`
      : `${rows.length} of ${this.#rows.length} modules`;
    // Rows are appended one by one: spreading a row per module into one call overflows the
    // stack on models of about 100,000 modules.
    const frag = document.createDocumentFragment();
    const share = (n: number) => this.#total > 0 ? `${((100 * n) / this.#total).toFixed(2)}%` : "";
    for (const r of rows) {
      const tr = el("tr");
      tr.append(
        el("td", r.name),
        el("td", r.type),
        el("td", r.op),
        el("td", r.shapes),
        el("td", r.params.toLocaleString("en-US"), { class: "n" }),
        el("td", share(r.params), { class: "n" }),
      );
      frag.append(tr);
    }
    this.parts.body.replaceChildren(frag);
  }
}
