// A small report bundle for the report tests.
import type { CompressionReport, LayerReport, ReportBundle } from "../../src/report/types.ts";

export function layer(module: string, sparsity: number, bits: number | null): LayerReport {
  return {
    module,
    target: "weight",
    type: "Linear",
    shape: [4, 4],
    elements: 16,
    sparsityBefore: 0,
    sparsity,
    bits,
    dtype: "F32",
    granularity: bits === null ? null : "out_channel",
  };
}

export function run(overrides: Partial<CompressionReport> = {}): CompressionReport {
  return {
    label: "int8",
    model: "model.onnx",
    format: "onnx",
    mode: "quantization",
    algorithm: "PtqQuantizer",
    configList: [{ op_types: ["Linear"], quant_dtype: "int8" }],
    before: { fileBytes: 2_000_000, packedBytes: 1_900_000 },
    after: { fileBytes: 2_000_000, packedBytes: 500_000 },
    parameters: 475_000,
    layers: [layer("fc1", 0.01, 8), layer("fc2", 0.02, 8)],
    warnings: [],
    evaluation: [{ name: "accuracy", correct: 39, total: 40, baseline: 40 }],
    timeMs: 1234,
    ...overrides,
  };
}

export function bundle(runs: CompressionReport[] = [run()]): ReportBundle {
  return { title: "test report", generator: "nncompress", createdAt: "2026-01-01T00:00:00Z", runs };
}
