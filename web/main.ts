/**
 * The in-browser compressor page: open a model from disk (drop or pick: files, a folder, a
 * sharded checkpoint, a model.json with shards), see where its parameters are, build a config
 * list with live validation, one-click "did you mean" fixes and the explain table, compress in a
 * Web Worker (with Cancel), compare original and result in onnxruntime-web, download the result
 * and its report. Nothing is uploaded: the page has no server side, and the URL carries the
 * config so a result can be reproduced.
 *
 * @module
 */

import { describeError } from "../src/compress/describe_error.ts";
import { type LoadedModel, modelFileBytes } from "../src/compress/load_model.ts";
import { graphValueTypes } from "../src/io/onnx/graph_value_types.ts";
import { moduleInfos } from "../src/model/module_infos.ts";
import type { ModuleInfo } from "../src/config/types.ts";
import { formatLayers } from "../src/report/format_runs.ts";
import { renderHtml } from "../src/report/render_html.ts";
import type { CompressionReport } from "../src/report/types.ts";
import type { CompareRequest, CompressRequest, WorkerMessage, WorkerRequest } from "./protocol.ts";
import { byId, el, fillList } from "./_dom.ts";
import { bytesText, fillTable, ModelView } from "./_model_view.ts";
import { droppedFiles, openModel } from "./_open.ts";
import { ALGORITHMS, PRESETS } from "./_presets.ts";
import { applyFix, type Validation } from "./_validate.ts";

/** Quiet time after the last keystroke before the list is checked. */
const DEBOUNCE_MS = 250;
/**
 * A check still running after this is stopped (its worker is replaced) and reported. Checking
 * costs about 0.1 ms per module, so only a list on a model of several hundred thousand modules
 * comes near it.
 */
const CHECK_BUDGET_MS = 60_000;
/** Rows of the explain table shown (the text view has them all). */
const EXPLAIN_ROWS = 2000;

const fileInput = byId<HTMLInputElement>("file");
const folderInput = byId<HTMLInputElement>("folder");
const drop = byId("drop");
const readProgress = byId<HTMLProgressElement>("read-progress");
const modelSummary = byId("model-summary");
const modelView = byId("model-view");
const modeSelect = byId<HTMLSelectElement>("mode");
const algorithmSelect = byId<HTMLSelectElement>("algorithm");
const storageSelect = byId<HTMLSelectElement>("storage");
const tfjsOptions = byId("tfjs-options");
const channelScalesBox = byId<HTMLInputElement>("channel-scales");
const equalizeBox = byId<HTMLInputElement>("equalize");
const headroomInput = byId<HTMLInputElement>("headroom");
/** The headroom field's value when it is a share in [0, 1], else the default 0.02. */
const headroomValue = () => {
  const v = headroomInput.valueAsNumber;
  return v >= 0 && v <= 1 ? v : 0.02;
};
const presetSelect = byId<HTMLSelectElement>("preset");
const configText = byId<HTMLTextAreaElement>("config");
const registryText = byId<HTMLTextAreaElement>("registry");
const issuesList = byId("issues");
const warningsList = byId("warnings");
const fixesBox = byId("fixes");
const validity = byId("validity");
const explainView = byId("explain");
const explainBody = byId("explain-table").querySelector("tbody")!;
const compressButton = byId<HTMLButtonElement>("compress");
const cancelButton = byId<HTMLButtonElement>("cancel");
const progress = byId<HTMLProgressElement>("progress");
const status = byId("status");
const resultBox = byId("result");
const sizesTable = byId("sizes");
const layersView = byId("layers");
const reportFrame = byId<HTMLIFrameElement>("report");
const downloadLink = byId<HTMLAnchorElement>("download");
const moreDownloads = byId("more-downloads");
const reportHtmlLink = byId<HTMLAnchorElement>("report-html");
const reportJsonLink = byId<HTMLAnchorElement>("report-json");
const shareLink = byId<HTMLAnchorElement>("share");
const compareSection = byId("compare-section");
const compareButton = byId<HTMLButtonElement>("compare");
const runsInput = byId<HTMLInputElement>("runs");
const imageInput = byId<HTMLInputElement>("image");
const imageName = byId("image-name");
const compareStatus = byId("compare-status");
const compareTable = byId("compare-table");
const latencyTable = byId("latency");

const view = new ModelView({
  facts: byId("facts"),
  dtypes: byId("dtypes"),
  types: byId("chart-types"),
  layers: byId("chart-layers"),
  body: byId("inspect-body"),
  head: byId("modules").querySelector("thead")!,
  filter: byId<HTMLInputElement>("filter"),
  filterCount: byId("filter-count"),
});

let model: LoadedModel | undefined;
let modules: ModuleInfo[] = [];
let current: Validation | undefined;
let busy = false;
/** Object URLs of the current result (revoked when the next one comes). */
let urls: string[] = [];
/** The compressed ONNX model, for the comparison. */
let compressedOnnx: ArrayBuffer | undefined;
let imageTensor: { data: Float32Array; dims: number[] } | undefined;
/** The id of the last check asked for; answers to older ones are dropped. */
let checkId = 0;
let checking = false;
let watchdog: ReturnType<typeof setTimeout> | undefined;
/** The debounce of typing in the list; a check of the current text makes it moot. */
let timer: ReturnType<typeof setTimeout> | undefined;
/** The list was edited since the last check was asked for (its check is due). */
let stale = false;

function setAlgorithms(mode: "pruning" | "quantization", selected?: string): void {
  algorithmSelect.replaceChildren(...ALGORITHMS[mode].map((a) => el("option", a, { value: a })));
  if (selected && ALGORITHMS[mode].includes(selected)) algorithmSelect.value = selected;
  storageSelect.disabled = mode !== "quantization";
  showTfjsOptions();
}

/**
 * The TensorFlow.js options show when a tfjs model is open and the mode is quantization; channel
 * scales and equalization need a topology, which a weights manifest alone (face-api.js) lacks.
 */
function showTfjsOptions(): void {
  tfjsOptions.hidden = model?.format !== "tfjs" || modeSelect.value !== "quantization";
  const graphless = manifestAlone();
  channelScalesBox.parentElement!.hidden = graphless;
  equalizeBox.parentElement!.hidden = graphless;
}

/** Whether the open model is a tfjs weights manifest alone. */
function manifestAlone(): boolean {
  return model?.format === "tfjs" && model.tfjs.kind === "weights-manifest";
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

function post(w: Worker, req: WorkerRequest, transfer: Transferable[] = []): void {
  w.postMessage(req, transfer);
}

let checker = startChecker();

/** The verdict is due: "checking…", and Compress waits for it. */
function showChecking(): void {
  validity.textContent = "checking…";
  validity.className = "";
  compressButton.disabled = true;
}

/** Asks the checker about the current text, mode and algorithm. */
function refresh(): void {
  // A check typed a moment ago is still due: this one covers it (a model opened within the
  // debounce would otherwise be checked twice, the page showing "valid" in between).
  clearTimeout(timer);
  stale = false;
  // A check still running is about text that has changed since: drop it with its worker.
  if (checking) {
    checker.terminate();
    checker = startChecker();
  }
  const id = ++checkId;
  checking = true;
  showChecking();
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

/**
 * The page's state as a URL fragment: mode, algorithm, storage, the config list and the
 * TensorFlow.js options.
 */
function stateHash(): string {
  const p = new URLSearchParams({
    mode: modeSelect.value,
    algorithm: algorithmSelect.value,
    storage: storageSelect.value,
    config: configText.value,
  });
  if (registryText.value.trim() !== "") p.set("registry", registryText.value);
  if (channelScalesBox.checked) p.set("channel-scales", "1");
  if (equalizeBox.checked) p.set("equalize", "1");
  if (headroomValue() !== 0.02) p.set("headroom", String(headroomValue()));
  return `#${p}`;
}

/** Restores a state from the URL fragment (a shared link). */
function restoreHash(): boolean {
  if (!location.hash.startsWith("#")) return false;
  const p = new URLSearchParams(location.hash.slice(1));
  const config = p.get("config");
  if (config === null) return false;
  const mode = p.get("mode") === "pruning" ? "pruning" : "quantization";
  modeSelect.value = mode;
  setAlgorithms(mode, p.get("algorithm") ?? undefined);
  const storage = p.get("storage");
  if (storage !== null && [...storageSelect.options].some((o) => o.value === storage)) {
    storageSelect.value = storage;
  }
  configText.value = config;
  registryText.value = p.get("registry") ?? "";
  channelScalesBox.checked = p.get("channel-scales") === "1";
  equalizeBox.checked = p.get("equalize") === "1";
  const headroom = Number(p.get("headroom") ?? "0.02");
  headroomInput.value = String(headroom >= 0 && headroom <= 1 ? headroom : 0.02);
  return true;
}

/** Shows the last check's outcome. */
function render(): void {
  if (current === undefined || checking || stale) return;
  fillList(issuesList, current.issues);
  // Warnings are about the model (a type or name it lacks): none before a model is open.
  fillList(warningsList, model ? current.warnings : []);
  fixesBox.replaceChildren(
    ...(model ? current.fixes ?? [] : []).map((fix) => {
      const b = el("button", `${fix.path}: use "${fix.to}" for "${fix.from}"`, {
        type: "button",
      });
      b.addEventListener("click", () => {
        const text = applyFix(configText.value, fix);
        if (text === undefined) return;
        configText.value = text;
        refresh();
      });
      return b;
    }),
  );
  explainView.textContent = model
    ? current.explanation
    : "Open a model to see what the list selects.";
  const rows = model ? current.rows ?? [] : [];
  const frag = document.createDocumentFragment();
  for (const r of rows.slice(0, EXPLAIN_ROWS)) {
    const tr = el("tr");
    tr.append(
      el("td", r.module),
      el("td", r.type),
      el("td", r.target),
      el("td", r.setting),
      el("td", `[${r.config}]`),
    );
    frag.append(tr);
  }
  if (rows.length > EXPLAIN_ROWS) {
    const tr = el("tr");
    tr.append(el("td", `… ${rows.length - EXPLAIN_ROWS} more (see "as text")`));
    frag.append(tr);
  }
  explainBody.replaceChildren(frag);
  const ok = current.issues.length === 0;
  validity.textContent = !model
    ? "open a model to check the list against it"
    : ok
    ? `valid: ${current.targets} targets configured`
    : `${current.issues.length} issue${current.issues.length === 1 ? "" : "s"}`;
  validity.className = ok ? "ok" : "bad";
  compressButton.disabled = busy || !model || !ok || current.targets === 0;
  if (ok) history.replaceState(null, "", stateHash());
}

function summaryLine(m: LoadedModel): string {
  return `${m.name}: ${m.format}, ${m.graph.modules.length} modules, ${
    bytesText(modelFileBytes(m))
  }${
    m.format === "onnx" && m.external !== undefined
      ? ` (with ${[...m.external.files.keys()].join(", ")})`
      : ""
  }`;
}

/** Opens the selected or dropped files. */
async function open(files: File[]): Promise<void> {
  if (files.length === 0) return;
  // What happens to the files is shown next to where they were chosen, not next to Compress.
  modelSummary.className = "muted";
  modelSummary.textContent = `reading ${files.map((f) => f.name).slice(0, 3).join(", ")}${
    files.length > 3 ? ", …" : ""
  }…`;
  readProgress.hidden = false;
  readProgress.value = 0;
  try {
    model = await openModel(files, (done, total) => {
      readProgress.value = total === 0 ? 1 : done / total;
    });
    modules = moduleInfos(model.graph);
    modelSummary.textContent = summaryLine(model);
    view.show(model);
    modelView.hidden = false;
  } catch (e) {
    model = undefined;
    modules = [];
    view.clear();
    modelView.hidden = true;
    modelSummary.className = "bad";
    const first = files.find((f) => /\.(onnx|safetensors|json)$/i.test(f.name)) ?? files[0];
    modelSummary.textContent = `cannot open ${first.name}: ${describeError(e).message}`;
  } finally {
    readProgress.hidden = true;
  }
  resultBox.hidden = true;
  compareSection.hidden = true;
  showTfjsOptions();
  post(checker, { type: "modules", modules });
  refresh();
}

fileInput.addEventListener("change", () => open([...(fileInput.files ?? [])]));
folderInput.addEventListener("change", () => open([...(folderInput.files ?? [])]));
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const dt = (e as DragEvent).dataTransfer;
  if (!dt) return;
  const files = dt.items.length > 0 ? await droppedFiles(dt.items) : [...dt.files];
  await open(files.length > 0 ? files : [...dt.files]);
});
// A file dropped beside the zone must not navigate away from the page.
for (const type of ["dragover", "drop"]) {
  document.addEventListener(type, (e) => e.preventDefault());
}

presetSelect.replaceChildren(
  el("option", "examples…", { value: "" }),
  ...PRESETS.map((p, i) => el("option", p.label, { value: String(i) })),
);
presetSelect.addEventListener("change", () => {
  const p = PRESETS[Number(presetSelect.value)];
  if (!p) return;
  modeSelect.value = p.mode;
  setAlgorithms(p.mode, p.algorithm);
  if (p.storage !== undefined) storageSelect.value = p.storage;
  configText.value = JSON.stringify(p.configList, null, 2);
  refresh();
});
modeSelect.addEventListener("change", () => {
  setAlgorithms(modeSelect.value as "pruning" | "quantization");
  refresh();
});
algorithmSelect.addEventListener("change", refresh);
for (const input of [storageSelect, channelScalesBox, equalizeBox, headroomInput]) {
  input.addEventListener("change", () => {
    if (current?.issues.length === 0) history.replaceState(null, "", stateHash());
  });
}
for (const text of [configText, registryText]) {
  text.addEventListener("input", () => {
    clearTimeout(timer);
    // The last check is about the text before this edit: until the new text is checked,
    // Compress waits (it would run the old list) and the verdict says so.
    stale = true;
    showChecking();
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });
}

// The compressions (and comparisons) run in their own worker; Cancel terminates it.
let compressor = startCompressor();

function startCompressor(): Worker {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  w.addEventListener("message", onCompressorMessage);
  return w;
}

function setBusy(on: boolean): void {
  busy = on;
  cancelButton.disabled = !on;
  compareButton.disabled = on;
  render();
  if (on) compressButton.disabled = true;
}

compressButton.addEventListener("click", () => {
  if (!model || !current || checking || stale || current.issues.length > 0) return;
  setBusy(true);
  resultBox.hidden = true;
  compareSection.hidden = true;
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
    storage: storageSelect.value as CompressRequest["storage"],
    ...(model.format === "tfjs" && !tfjsOptions.hidden
      ? {
        tfjs: {
          channelScales: channelScalesBox.checked && !manifestAlone(),
          equalize: equalizeBox.checked && !manifestAlone(),
          headroom: headroomValue(),
        },
      }
      : {}),
    ...(current.registry === undefined ? {} : { registry: current.registry }),
  };
  post(compressor, req, [req.bytes, ...(req.shards ?? []).map(([, b]) => b)]);
});

cancelButton.addEventListener("click", () => {
  if (!busy) return;
  compressor.terminate();
  compressor = startCompressor();
  progress.value = 0;
  status.textContent = "cancelled: nothing was written";
  compareStatus.textContent = "";
  setBusy(false);
});

function objectUrl(data: BlobPart, type = "application/octet-stream"): string {
  const u = URL.createObjectURL(new Blob([data], { type }));
  urls.push(u);
  return u;
}

function showResult(
  bytes: ArrayBuffer,
  files: readonly (readonly [string, ArrayBuffer])[] | undefined,
  r: CompressionReport,
): void {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
  moreDownloads.replaceChildren();
  if (files !== undefined) {
    // A TensorFlow.js model: model.json names its shards, so every file keeps its name; save
    // them into one folder.
    downloadLink.href = objectUrl(bytes);
    downloadLink.download = files[0][0];
    downloadLink.textContent = `Download ${files[0][0]} (${bytesText(bytes.byteLength)})`;
    for (const [name, b] of files.slice(1)) {
      const a = el("a", `${name} (${bytesText(b.byteLength)})`, {
        href: objectUrl(b),
        download: name,
      });
      moreDownloads.append(a, " ");
    }
  } else {
    const dot = r.model.lastIndexOf(".");
    const stem = dot > 0 ? r.model.slice(0, dot) : r.model;
    downloadLink.href = objectUrl(bytes);
    downloadLink.download = `${stem}.${r.mode === "pruning" ? "pruned" : "quantized"}${
      dot > 0 ? r.model.slice(dot) : ""
    }`;
    downloadLink.textContent = `Download ${downloadLink.download} (${bytesText(bytes.byteLength)})`;
  }
  const html = renderHtml({
    title: `nncompress: ${r.model}`,
    generator: "nncompress in the browser",
    createdAt: new Date().toISOString(),
    runs: [r],
  });
  reportHtmlLink.href = objectUrl(html, "text/html");
  reportHtmlLink.download = "report.html";
  reportJsonLink.href = objectUrl(JSON.stringify(r, null, 2), "application/json");
  reportJsonLink.download = "report.json";
  shareLink.href = `${location.origin}${location.pathname}${stateHash()}`;
  const ratio = (a: number, b: number) => b > 0 ? `${((100 * a) / b).toFixed(1)}%` : "";
  fillTable(sizesTable, ["size", "before", "after", "after / before"], [
    [
      "file",
      bytesText(r.before.fileBytes),
      bytesText(r.after.fileBytes),
      ratio(r.after.fileBytes, r.before.fileBytes),
    ],
    [
      "parameters (packed)",
      bytesText(r.before.packedBytes),
      bytesText(r.after.packedBytes),
      ratio(r.after.packedBytes, r.before.packedBytes),
    ],
  ]);
  layersView.textContent = formatLayers(r);
  reportFrame.srcdoc = html;
  resultBox.hidden = false;
  compressedOnnx = model?.format === "onnx" && files === undefined ? bytes.slice(0) : undefined;
  compareSection.hidden = compressedOnnx === undefined;
  compareTable.replaceChildren();
  latencyTable.replaceChildren();
  compareStatus.textContent = "";
}

function onCompressorMessage(event: MessageEvent<WorkerMessage>): void {
  const msg = event.data;
  if (msg.type === "validation") return;
  if (msg.type === "progress") {
    progress.value = msg.total === 0 ? 1 : msg.done / msg.total;
    status.textContent = `${msg.stage} ${msg.done}/${msg.total}`;
    return;
  }
  if (msg.type === "compared") {
    setBusy(false);
    compareStatus.textContent = `onnxruntime-web (WebAssembly, ${msg.threads} thread${
      msg.threads === 1 ? "" : "s"
    }) on ${Object.entries(msg.inputs).map(([n, d]) => `${n} [${d.join(", ")}]`).join(", ")} (${
      imageTensor ? "the image" : "random values"
    })`;
    const paired = msg.outputs.some((o) => o.matched !== undefined);
    fillTable(
      compareTable,
      [
        "output",
        "dims",
        "cosine",
        "max |diff|",
        "relative error",
        "same top-1",
        ...(paired ? ["picks matched: cosine"] : []),
      ],
      msg.outputs.map((o) => [
        // Picked by rank or threshold: element-wise measures say little (CLI eval explains);
        // the picks matched as sets, and the values they are picked from, say more.
        o.afterSelection !== undefined
          ? `${o.name} (after ${o.afterSelection})`
          : o.beforeSelection !== undefined
          ? `${o.name} (no output: what ${o.beforeSelection} selects from)`
          : o.name,
        `[${o.dims.join(", ")}]`,
        o.cosine.toFixed(6),
        o.maxAbsDiff.toExponential(3),
        o.relativeError.toExponential(3),
        o.top1 === undefined ? "-" : `${o.top1.same}/${o.top1.total}`,
        ...(paired
          ? [
            o.matched === undefined
              ? "-"
              : `${o.matched.cosine.toFixed(6)}${
                o.matched.unmatched > 0 ? ` (${o.matched.unmatched} unpaired)` : ""
              }`,
          ]
          : []),
      ]),
    );
    const speed = msg.latency.compressed > 0
      ? `${(msg.latency.original / msg.latency.compressed).toFixed(2)}x`
      : "";
    fillTable(latencyTable, ["latency (median of runs)", "original", "compressed", "speed-up"], [
      [
        `${msg.runs} runs after 2 warm-up runs`,
        `${msg.latency.original.toFixed(2)} ms`,
        `${msg.latency.compressed.toFixed(2)} ms`,
        speed,
      ],
    ]);
    return;
  }
  const wasComparing = compareStatus.textContent === "running both models…";
  setBusy(false);
  if (msg.type === "error") {
    const hint = msg.error.hint === undefined ? "" : ` (${msg.error.hint})`;
    if (wasComparing) {
      compareStatus.textContent = `failed: ${msg.error.message}${hint}`;
      return;
    }
    status.textContent = `failed: ${msg.error.message}${hint}`;
    progress.value = 0;
    return;
  }
  progress.value = 1;
  status.textContent = `done in ${
    (msg.report.timeMs / 1000).toFixed(2)
  } s with the ${msg.kernels} kernels`;
  showResult(msg.bytes, msg.files, msg.report);
}

compareButton.addEventListener("click", () => {
  if (!model || model.format !== "onnx" || compressedOnnx === undefined || busy) return;
  const runs = Math.max(1, Math.min(200, Math.round(Number(runsInput.value) || 10)));
  setBusy(true);
  compareStatus.textContent = "running both models…";
  const req: CompareRequest = {
    type: "compare",
    original: model.bytes.slice().buffer as ArrayBuffer,
    compressed: compressedOnnx.slice(0),
    runs,
    ...(imageTensor === undefined ? {} : { input: imageTensor }),
  };
  post(compressor, req, [req.original, req.compressed]);
});

/**
 * An image as the first input of an image model: `[1, 3, H, W]` (or `[1, H, W, 3]`), resized to
 * the input's fixed dims (a free width follows the image's aspect ratio) and scaled to [-1, 1].
 */
async function imageInputTensor(file: File): Promise<{ data: Float32Array; dims: number[] }> {
  if (!model || model.format !== "onnx") throw new Error("an image input needs an ONNX model");
  const input = graphValueTypes(model.onnx).inputs[0];
  const dims = input?.dims ?? [];
  const chw = dims.length === 4 && dims[1] === 3;
  const hwc = dims.length === 4 && dims[3] === 3;
  if (!chw && !hwc) {
    throw new Error(
      `an image input needs a first input of dims [1, 3, H, W] or [1, H, W, 3]: "${input?.name}" is [${
        dims.join(", ")
      }]`,
    );
  }
  const bitmap = await createImageBitmap(file);
  const fixed = (d: unknown) => typeof d === "number" && d > 0 ? d : undefined;
  const hDim = fixed(chw ? dims[2] : dims[1]);
  const wDim = fixed(chw ? dims[3] : dims[2]);
  const h = hDim ?? Math.min(640, bitmap.height);
  const w = wDim ??
    Math.max(8, Math.min(2048, Math.round((bitmap.width * h) / bitmap.height / 8) * 8));
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(bitmap, 0, 0, w, h);
  const pixels = ctx.getImageData(0, 0, w, h).data;
  const data = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (pixels[4 * i + c] / 255 - 0.5) / 0.5;
      data[chw ? c * h * w + i : 3 * i + c] = v;
    }
  }
  return { data, dims: chw ? [1, 3, h, w] : [1, h, w, 3] };
}

imageInput.addEventListener("change", async () => {
  const file = imageInput.files?.[0];
  if (!file) return;
  try {
    imageTensor = await imageInputTensor(file);
    imageName.className = "muted";
    imageName.textContent = `${file.name} as [${imageTensor.dims.join(", ")}]`;
  } catch (e) {
    imageTensor = undefined;
    imageName.className = "bad";
    imageName.textContent = `cannot use ${file.name}: ${(e as Error).message}`;
  }
});

if ("serviceWorker" in navigator && location.protocol !== "file:") {
  navigator.serviceWorker.register("./sw.js").catch(() => {});
}

if (!restoreHash()) {
  setAlgorithms("quantization", "PtqQuantizer");
  configText.value = JSON.stringify(PRESETS[0].configList, null, 2);
}
refresh();
