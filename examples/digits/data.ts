// The UCI digits data (8x8 images, 64 features in 0..16, 10 classes): first 1,347 rows to train,
// last 450 to test.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { tf } from "./tf.ts";

export interface Split {
  readonly x: tf.Tensor2D;
  readonly y: tf.Tensor2D;
  readonly labels: Int32Array;
}

const FILE = fileURLToPath(new URL("../../tests/fixtures/digits.csv.gz", import.meta.url));

function split(rows: number[][]): Split {
  const x = tf.tensor2d(rows.map((r) => r.slice(0, 64).map((v) => v / 16)));
  const labels = Int32Array.from(rows.map((r) => r[64]));
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D;
  return { x, y, labels };
}

/** The train (first 1,347 rows) and test (last 450 rows) splits. */
export function loadDigits(): { train: Split; test: Split } {
  const text = new TextDecoder().decode(gunzipSync(readFileSync(FILE)));
  const rows = text.trim().split("\n").map((line) => line.split(",").map(Number));
  return { train: split(rows.slice(0, 1347)), test: split(rows.slice(1347)) };
}
