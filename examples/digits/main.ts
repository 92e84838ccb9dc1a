// Training-aware compression of a 64-32-10 MLP on the UCI digits data:
//   npx deno run -A examples/digits/main.ts      (or: npx bun examples/digits/main.ts)
// Trains a dense teacher, then compares one-shot pruning, AGP pruning with fine-tuning, AGP with
// distillation from the teacher (all at 80% sparsity), PTQ int8 and QAT int8 on the last 450 rows,
// then writes the compressed models (ONNX, QDQ ONNX, integer and float safetensors, mask
// sidecar) to a temporary folder and runs the ONNX files in onnxruntime.
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { saveMasks } from "../../src/pruning/save_masks.ts";
import { fakeQuantizedTensors } from "../../src/quantization/fake_quantized_tensors.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import { quantizedSafetensors } from "../../src/quantization/quantized_safetensors.ts";
import {
  createDistiller,
  createQuantizer,
  createTrainingPruner,
  prunerTargetMasks,
  quantTargetParams,
  tfModelGraph,
  tfSafetensors,
  tfToOnnx,
  type TrainingPart,
} from "../../src/training/mod.ts";
import { loadDigits } from "./data.ts";
import { exportDir, onnxAccuracy, sizes } from "./export.ts";
import { accuracy, copyOf, fit, mlp } from "./model.ts";

const started = performance.now();
const { train, test } = loadDigits();
const rows: [string, number, string][] = [];
const report = (name: string, acc: number, note: string) => {
  rows.push([name, acc, note]);
  console.log(`${name.padEnd(26)} ${acc.toFixed(2).padStart(6)} %   ${note}`);
};

// 1. The dense teacher.
const teacher = mlp(1);
fit(teacher, train, { epochs: 40, lr: 0.01, seed: 1 });
const dense = accuracy(teacher, test);
report("dense (teacher)", dense, "64-32-10 MLP, Adam, 40 epochs");
const out = exportDir();
out.write("dense.onnx", tfToOnnx(teacher));

const PRUNE = [{ op_types: ["Linear"], sparse_ratio: 0.8 }];
const STEPS_PER_EPOCH = Math.ceil(1347 / 32);
const sparsityOf = (p: { sparsity(): Record<string, number> }) =>
  Object.entries(p.sparsity()).map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(", ");

// 2. One-shot: 80% of the smallest weights of each layer, no fine-tuning.
{
  const student = copyOf(teacher, 11);
  const pruner = createTrainingPruner(student, PRUNE, { pruner: "level" });
  pruner.updateMasks();
  report("one-shot pruned 80%", accuracy(student, test, [pruner]), sparsityOf(pruner));
}

// 3. AGP to 80% over 10 epochs (one mask update per epoch), then 5 epochs of fine-tuning.
const agp = () => ({ schedule: "agp" as const, totalTimes: 10, intervalSteps: STEPS_PER_EPOCH });
{
  const student = copyOf(teacher, 12);
  const pruner = createTrainingPruner(student, PRUNE, { pruner: "level", ...agp() });
  fit(student, train, { epochs: 15, lr: 0.003, parts: [pruner], seed: 2 });
  report("AGP 80% + fine-tuning", accuracy(student, test, [pruner]), sparsityOf(pruner));
}

// 4. The same schedule with distillation from the teacher (kl on the logits).
{
  const student = copyOf(teacher, 13);
  const pruner = createTrainingPruner(student, PRUNE, { pruner: "level", ...agp() });
  const distiller = createDistiller(student, teacher, [
    { op_names: ["fc2"], apply_method: "kl", lambda: 1.0 },
  ]);
  const parts: TrainingPart[] = [pruner, distiller];
  fit(student, train, { epochs: 15, lr: 0.003, parts, seed: 2 });
  report("AGP 80% + distillation", accuracy(student, test, [pruner]), sparsityOf(pruner));
  const masks = pruner.masks();
  out.write("agp80-distilled.safetensors", tfSafetensors(student, { masks }));
  out.write("agp80-distilled.masks.safetensors", saveMasks(prunerTargetMasks(student, pruner)));
  const onnx = tfToOnnx(student, { masks });
  out.write("agp80-distilled.onnx", onnx);
  report(
    "AGP + distillation, ONNX",
    await onnxAccuracy(onnx, test),
    "agp80-distilled.onnx in onnxruntime",
  );
}

// 5. PTQ int8: weights and activations of both Linear layers, calibrated on the training rows.
const QUANT = [{
  op_types: ["Linear"],
  target_names: ["_input_", "weight", "_output_"],
  quant_dtype: "int8",
}];
{
  const ptq = createQuantizer(teacher, QUANT, { mode: "ptq" });
  ptq.calibrate([train.x]);
  report("PTQ int8", accuracy(teacher, test, [ptq]), "weights + activations, per tensor");
  ptq.dispose();
}

// 6. QAT int8 from the teacher: 5 epochs, quantization from step 50 (observers from step 0).
{
  const student = copyOf(teacher, 14);
  const qat = createQuantizer(student, QUANT, { mode: "qat", quantStartStep: 50 });
  fit(student, train, { epochs: 5, lr: 0.001, parts: [qat], seed: 3 });
  report("QAT int8", accuracy(student, test, [qat]), "EMA observers, STE, quant_start_step 50");
  const params = quantTargetParams(student, qat);
  const graph = tfModelGraph(student);
  out.write("qat-int8.safetensors", await quantizedSafetensors(graph, params));
  const fake = await fakeQuantizedTensors(graph, params);
  out.write("qat-int8.fake.safetensors", tfSafetensors(student, { replacements: fake }));
  const float = decodeOnnx(tfToOnnx(student));
  const qdq = await qdqOnnx(float, onnxModel(float), params);
  out.write("qat-int8.qdq.onnx", qdq);
  report("QAT int8, QDQ ONNX", await onnxAccuracy(qdq, test), "qat-int8.qdq.onnx in onnxruntime");
  qat.dispose();
}

console.log(`\n| model | accuracy on the last 450 rows | notes |\n|---|---|---|`);
for (const [name, acc, note] of rows) console.log(`| ${name} | ${acc.toFixed(2)} % | ${note} |`);
const acc = (name: string) => rows.find((r) => r[0] === name)![1];
const gap = (name: string) => (dense - acc(name)).toFixed(2);
console.log(
  `\nAGP + distillation: ${gap("AGP 80% + distillation")} points below dense (bar: within 2), ` +
    `${(acc("AGP 80% + distillation") - acc("one-shot pruned 80%")).toFixed(2)} above one-shot; ` +
    `QAT int8: ${gap("QAT int8")} points below dense (bar: within 1)`,
);
console.log(`\nexported to ${out.dir}:\n${sizes(out.files).join("\n")}`);
console.log(`total time ${((performance.now() - started) / 1000).toFixed(1)} s`);
