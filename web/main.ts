/**
 * The in-browser compressor page: open a model from disk, inspect it, edit a config list with
 * live validation and the explain view, compress in a Web Worker, see the report, download the
 * result. Nothing is uploaded: the page has no server side.
 *
 * @module
 */

import { type LoadedModel, loadModel } from "../src/compress/load_model.ts";
import { moduleInfos } from "../src/model/module_infos.ts";
import type { ModuleInfo } from "../src/config/types.ts";
import { inspect } from "../src/model/inspect.ts";
import { formatLayers } from "../src/report/format_runs.ts";
import { renderHtml } from "../src/report/render_html.ts";
import type { CompressRequest, WorkerMessage } from "./protocol.ts";
import { byId, el, fillList } from "./_dom.ts";
import { ALGORITHMS, PRESETS } from "./_presets.ts";
import { validate, type Validation } from "./_validate.ts";

const fileInput = byId<HTMLInputElement>("file");
const modelSummary = byId("model-summary");
const inspectBody = byId("inspect-body");
const modeSelect = byId<HTMLSelectElement>("mode");
const algorithmSelect = byId<HTMLSelectElement>("algorithm");
const storageSelect = byId<HTMLSelectElement>("storage");
const presetSelect = byId<HTMLSelectElement>("preset");
const configText = byId<HTMLTextAreaElement>("config");
const issuesList = byId("issues");
const warningsList = byId("warnings");
const validity = byId("validity");
const explainView = byId("explain");
const compressButton = byId<HTMLButtonElement>("compress");
const progress = byId<HTMLProgressElement>("progress");
const status = byId("status");
const resultBox = byId("result");
const layersView = byId("layers");
const reportFrame = byId<HTMLIFrameElement>("report");
const downloadLink = byId<HTMLAnchorElement>("download");

let model: LoadedModel | undefined;
let modules: ModuleInfo[] = [];
let current: Validation | undefined;
let busy = false;
let url: string | undefined;

function setAlgorithms(mode: "pruning" | "quantization", selected?: string): void {
  algorithmSelect.replaceChildren(...ALGORITHMS[mode].map((a) => el("option", a, { value: a })));
  if (selected) algorithmSelect.value = selected;
  storageSelect.disabled = mode !== "quantization";
}

function refresh(): void {
  const mode = modeSelect.value as "pruning" | "quantization";
  current = validate(configText.value, modules, mode, algorithmSelect.value);
  fillList(issuesList, current.issues);
  fillList(warningsList, current.warnings);
  explainView.textContent = model
    ? current.explanation
    : "Open a model to see what the list selects.";
  const ok = current.issues.length === 0;
  validity.textContent = !model
    ? "open a model to check the list against it"
    : ok
    ? `valid: ${current.targets} targets configured`
    : `${current.issues.length} issue${current.issues.length === 1 ? "" : "s"}`;
  validity.className = ok ? "ok" : "bad";
  compressButton.disabled = busy || !model || !ok || current.targets === 0;
}

function showModel(m: LoadedModel): void {
  const s = inspect(m.graph);
  modelSummary.textContent = `${m.name}: ${m.format}, ${m.graph.modules.length} modules, ` +
    `${s.elements.toLocaleString("en-US")} parameters, ${(m.bytes.length / 1e6).toFixed(2)} MB`;
  inspectBody.replaceChildren(
    ...s.modules.map((mod) => {
      const tr = el("tr");
      const params = mod.params.map((p) => `${p.name} ${p.dtype} [${p.shape.join(", ")}]`).join(
        "; ",
      );
      tr.append(
        el("td", mod.name),
        el("td", mod.type),
        el("td", mod.opType ?? ""),
        el("td", params),
      );
      return tr;
    }),
  );
}

fileInput.addEventListener("change", async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  status.textContent = `reading ${file.name}…`;
  try {
    model = loadModel(new Uint8Array(await file.arrayBuffer()), file.name);
    modules = moduleInfos(model.graph);
    showModel(model);
    status.textContent = "";
  } catch (e) {
    model = undefined;
    modules = [];
    modelSummary.textContent = "";
    inspectBody.replaceChildren();
    status.textContent = `cannot open ${file.name}: ${(e as Error).message}`;
  }
  refresh();
});

presetSelect.replaceChildren(
  el("option", "examples…", { value: "" }),
  ...PRESETS.map((p, i) => el("option", p.label, { value: String(i) })),
);
presetSelect.addEventListener("change", () => {
  const p = PRESETS[Number(presetSelect.value)];
  if (!p) return;
  modeSelect.value = p.mode;
  setAlgorithms(p.mode, p.algorithm);
  configText.value = JSON.stringify(p.configList, null, 2);
  refresh();
});
modeSelect.addEventListener("change", () => {
  setAlgorithms(modeSelect.value as "pruning" | "quantization");
  refresh();
});
algorithmSelect.addEventListener("change", refresh);
let timer: ReturnType<typeof setTimeout> | undefined;
configText.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(refresh, 120);
});

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

compressButton.addEventListener("click", () => {
  if (!model || !current || current.issues.length > 0) return;
  busy = true;
  compressButton.disabled = true;
  resultBox.hidden = true;
  progress.value = 0;
  status.textContent = "compressing…";
  const req: CompressRequest = {
    bytes: model.bytes.slice().buffer as ArrayBuffer,
    name: model.name,
    mode: modeSelect.value as "pruning" | "quantization",
    configList: current.configList,
    algorithm: algorithmSelect.value,
    storage: storageSelect.value as "auto" | "float" | "int" | "nbits",
  };
  worker.postMessage(req, [req.bytes]);
});

worker.addEventListener("message", (event: MessageEvent<WorkerMessage>) => {
  const msg = event.data;
  if (msg.type === "progress") {
    progress.value = msg.total === 0 ? 1 : msg.done / msg.total;
    status.textContent = `${msg.stage} ${msg.done}/${msg.total}`;
    return;
  }
  busy = false;
  refresh();
  if (msg.type === "error") {
    const hint = msg.error.hint === undefined ? "" : ` (${msg.error.hint})`;
    status.textContent = `failed: ${msg.error.message}${hint}`;
    progress.value = 0;
    return;
  }
  const r = msg.report;
  progress.value = 1;
  status.textContent = `done in ${(r.timeMs / 1000).toFixed(2)} s with the ${msg.kernels} kernels`;
  layersView.textContent = formatLayers(r);
  reportFrame.srcdoc = renderHtml({
    title: `nncompress: ${r.model}`,
    generator: "nncompress in the browser",
    createdAt: new Date().toISOString(),
    runs: [r],
  });
  if (url) URL.revokeObjectURL(url);
  url = URL.createObjectURL(new Blob([msg.bytes], { type: "application/octet-stream" }));
  const dot = r.model.lastIndexOf(".");
  const stem = dot > 0 ? r.model.slice(0, dot) : r.model;
  downloadLink.href = url;
  downloadLink.download = `${stem}.${r.mode === "pruning" ? "pruned" : "quantized"}${
    dot > 0 ? r.model.slice(dot) : ""
  }`;
  downloadLink.textContent = `Download ${downloadLink.download} (${
    (msg.bytes.byteLength / 1e6).toFixed(2)
  } MB)`;
  resultBox.hidden = false;
});

setAlgorithms("quantization", "PtqQuantizer");
configText.value = JSON.stringify(PRESETS[0].configList, null, 2);
refresh();
