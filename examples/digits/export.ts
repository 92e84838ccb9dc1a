// Writing the compressed models to files, and running ONNX exports in onnxruntime.
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as ort from "onnxruntime-node";
import type { Split } from "./data.ts";

/** A temporary folder for the exported files, and a writer that records their sizes. */
export function exportDir(): {
  dir: string;
  write(name: string, bytes: Uint8Array): void;
  files: string[];
} {
  const dir = mkdtempSync(join(tmpdir(), "nncompress-digits-"));
  const files: string[] = [];
  return {
    dir,
    files,
    write(name, bytes) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      files.push(path);
    },
  };
}

/** `name  size` lines for the files. */
export function sizes(files: readonly string[]): string[] {
  return files.map((f) =>
    `  ${basename(f).padEnd(36)} ${String(statSync(f).size).padStart(7)} bytes`
  );
}

/** Accuracy in percent of an ONNX model (input `input`, output `output`) on a split. */
export async function onnxAccuracy(bytes: Uint8Array, data: Split): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "basic",
    intraOpNumThreads: 1,
  });
  const n = data.labels.length;
  const x = new ort.Tensor("float32", data.x.dataSync() as Float32Array, [n, 64]);
  const logits = (await session.run({ input: x })).output.data as Float32Array;
  await session.release();
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
    right += best === data.labels[i] ? 1 : 0;
  }
  return (100 * right) / n;
}
