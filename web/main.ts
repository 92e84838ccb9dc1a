/**
 * The in-browser compressor page: open a model from disk, inspect it, edit a config list with
 * live validation and the explain view, compress in a Web Worker, see the report, download the
 * result. Nothing is uploaded: the page has no server side.
 *
 * @module
 */

import { describeError } from "../src/compress/describe_error.ts";
import {
  detectFormat,
  type LoadedModel,
  loadModel,
  modelFileBytes,
} from "../src/compress/load_model.ts";
import { moduleInfos } from "../src/model/module_infos.ts";
import type { ModuleInfo } from "../src/config/types.ts";
import { inspect } from "../src/model/inspect.ts";
import { formatLayers } from "../src/report/format_runs.ts";
import { renderHtml } from "../src/report/render_html.ts";
import type { CompressRequest, WorkerMessage, WorkerRequest } from "./protocol.ts";
import { byId, el, fillList } from "./_dom.ts";
import { ALGORITHMS, PRESETS } from "./_presets.ts";
import type { Validation } from "./_validate.ts";

/** Quiet time after the last keystroke before the list is checked. */
const DEBOUNCE_MS = 250;
/**
 * A check still running after this is stopped (its worker is replaced) and reported. Checking
 * costs about 0.1 ms per module, so only a list on a model of several hundred thousand modules
 * comes near it.
 */
const CHECK_BUDGET_MS = 60_000;

const fileInput = byId<HTMLInputElement>("file");
const modelSummary = byId("model-summary");
const inspectBody = byId("inspect-body");
const modeSelect = byId<HTMLSelectElement>("mode");
const algorithmSelect = byId<HTMLSelectElement>("algorithm");
const storageSelect = byId<HTMLSelectElement>("storage");
const presetSelect = byId<HTMLSelectElement>("preset");
const configText = byId<HTMLTextAreaElement>("config");
const registryText = byId<HTMLTextAreaElement>("registry");
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
const moreDownloads = byId("more-downloads");

let model: LoadedModel | undefined;
let modules: ModuleInfo[] = [];
let current: Validation | undefined;
let busy = false;
let url: string | undefined;
/** The object URLs of a TensorFlow.js result's shards. */
let moreUrls: string[] = [];
/** The id of the last check asked for; answers to older ones are dropped. */
let checkId = 0;
let checking = false;
let watchdog: ReturnType<typeof setTimeout> | undefined;

function setAlgorithms(mode: "pruning" | "quantization", selected?: string): void {
  algorithmSelect.replaceChildren(...ALGORITHMS[mode].map((a) => el("option", a, { value: a })));
  if (selected) algorithmSelect.value = selected;
  storageSelect.disabled = mode !== "quantization";
}

// The list is checked in a worker of its own, so that no list — however slow to check on a large
// model — freezes the page, and a check that is outdated or overruns its budget can be stopped
// by replacing the worker without touching a compression in progress.
function startChecker(): Worker {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  w.addEventListener("message", (event: MessageEvent<WorkerMessage>) => {
    const msg = event.data;
    if (msg.type !== "validation" || msg.id !== checkId) return;
    clearTimeout(watchdog);
    checking = false;
    current = msg.validation;
    render();
  });
  post(w, { type: "modules", modules });
  return w;
}

function post(w: Worker, req: WorkerRequest): void {
  w.postMessage(req);
}

let checker = startChecker();

/** Asks the checker about the current text, mode and algorithm. */
function refresh(): void {
  // A check still running is about text that has changed since: drop it with its worker.
  if (checking) {
    checker.terminate();
    checker = startChecker();
  }
  const id = ++checkId;
  checking = true;
  validity.textContent = "checking…";
  validity.className = "";
  compressButton.disabled = true;
  clearTimeout(watchdog);
  watchdog = setTimeout(() => {
    if (id !== checkId) return;
    checker.terminate();
    checker = startChecker();
    checking = false;
    current = {
      issues: [
        `checking the list took more than ${CHECK_BUDGET_MS / 1000} s and was stopped: ` +
        "simplify the list or select fewer modules",
      ],
      warnings: [],
      explanation: "",
      targets: 0,
    };
    render();
  }, CHECK_BUDGET_MS);
  post(checker, {
    type: "validate",
    id,
    text: configText.value,
    mode: modeSelect.value as "pruning" | "quantization",
    algorithm: algorithmSelect.value,
    registry: registryText.value,
  });
}

/** Shows the last check's outcome. */
function render(): void {
  if (current === undefined || checking) return;
  fillList(issuesList, current.issues);
  // Warnings are about the model (a type or name it lacks): none before a model is open.
  fillList(warningsList, model ? current.warnings : []);
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
  const data = m.format === "onnx" && m.external !== undefined
    ? ` (with ${[...m.external.files.keys()].join(", ")})`
    : "";
  modelSummary.textContent = `${m.name}: ${m.format}, ${m.graph.modules.length} modules, ` +
    `${s.elements.toLocaleString("en-US")} parameters, ${
      (modelFileBytes(m) / 1e6).toFixed(2)
    } MB${data}`;
  // Rows are appended one by one: spreading a row per module into one call overflows the stack
  // on models of about 100,000 modules.
  const rows = document.createDocumentFragment();
  for (const mod of s.modules) {
    const tr = el("tr");
    const params = mod.params.map((p) => `${p.name} ${p.dtype} [${p.shape.join(", ")}]`).join(
      "; ",
    );
    tr.append(el("td", mod.name), el("td", mod.type), el("td", mod.opType ?? ""), el("td", params));
    rows.append(tr);
  }
  inspectBody.replaceChildren(rows);
}

fileInput.addEventListener("change", async () => {
  // The model, and for an ONNX model with external data its data files (for a TensorFlow.js
  // model.json its weight shards), selected together.
  const files = [...(fileInput.files ?? [])];
  const file = files.find((f) => /\.(onnx|safetensors|json)$/i.test(f.name)) ?? files[0];
  if (!file) return;
  // What happens to the file is shown next to the file input, not next to Compress.
  modelSummary.className = "muted";
  modelSummary.textContent = `reading ${file.name}…`;
  try {
    const others = new Map<string, Uint8Array>();
    for (const f of files) {
      if (f !== file) others.set(f.name, new Uint8Array(await f.arrayBuffer()));
    }
    // With the data files given (even none), a model with external data that lacks one fails
    // here with the tensor and file it needs; a model.json without a shard names the shard.
    const bytes = new Uint8Array(await file.arrayBuffer());
    model = loadModel(
      bytes,
      file.name,
      detectFormat(bytes, file.name) === "tfjs" ? { shards: others } : { externalData: others },
    );
    modules = moduleInfos(model.graph);
    showModel(model);
  } catch (e) {
    model = undefined;
    modules = [];
    inspectBody.replaceChildren();
    modelSummary.className = "bad";
    modelSummary.textContent = `cannot open ${file.name}: ${describeError(e).message}`;
  }
  post(checker, { type: "modules", modules });
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
for (const text of [configText, registryText]) {
  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });
}

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

compressButton.addEventListener("click", () => {
  if (!model || !current || checking || current.issues.length > 0) return;
  busy = true;
  compressButton.disabled = true;
  resultBox.hidden = true;
  progress.value = 0;
  status.textContent = "compressing…";
  const req: CompressRequest = {
    type: "compress",
    bytes: model.bytes.slice().buffer as ArrayBuffer,
    name: model.name,
    ...(model.format === "tfjs"
      ? {
        shards: [...model.files].filter(([n]) => n !== "model.json").map((
          [n, b],
        ) => [n, b.slice().buffer as ArrayBuffer] as const),
      }
      : {}),
    mode: modeSelect.value as "pruning" | "quantization",
    configList: current.configList,
    algorithm: algorithmSelect.value,
    storage: storageSelect.value as "auto" | "float" | "int" | "nbits",
    ...(current.registry === undefined ? {} : { registry: current.registry }),
  };
  worker.postMessage(req, [req.bytes, ...(req.shards ?? []).map(([, b]) => b)]);
});

worker.addEventListener("message", (event: MessageEvent<WorkerMessage>) => {
  const msg = event.data;
  if (msg.type === "validation") return;
  if (msg.type === "progress") {
    progress.value = msg.total === 0 ? 1 : msg.done / msg.total;
    status.textContent = `${msg.stage} ${msg.done}/${msg.total}`;
    return;
  }
  busy = false;
  render();
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
  for (const u of moreUrls) URL.revokeObjectURL(u);
  moreUrls = [];
  moreDownloads.replaceChildren();
  url = URL.createObjectURL(new Blob([msg.bytes], { type: "application/octet-stream" }));
  const size = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  if (msg.files !== undefined) {
    // A TensorFlow.js model: model.json names its shards, so every file keeps its name; save
    // them into one folder.
    downloadLink.href = url;
    downloadLink.download = msg.files[0][0];
    downloadLink.textContent = `Download ${msg.files[0][0]} (${size(msg.bytes.byteLength)})`;
    for (const [name, bytes] of msg.files.slice(1)) {
      const u = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      moreUrls.push(u);
      const a = el("a", `${name} (${size(bytes.byteLength)})`, { href: u, download: name });
      moreDownloads.append(" ", a);
    }
    resultBox.hidden = false;
    return;
  }
  const dot = r.model.lastIndexOf(".");
  const stem = dot > 0 ? r.model.slice(0, dot) : r.model;
  downloadLink.href = url;
  downloadLink.download = `${stem}.${r.mode === "pruning" ? "pruned" : "quantized"}${
    dot > 0 ? r.model.slice(dot) : ""
  }`;
  downloadLink.textContent = `Download ${downloadLink.download} (${size(msg.bytes.byteLength)})`;
  resultBox.hidden = false;
});

setAlgorithms("quantization", "PtqQuantizer");
configText.value = JSON.stringify(PRESETS[0].configList, null, 2);
refresh();
