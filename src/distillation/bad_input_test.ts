// Bad distillation input: clear errors naming the target and the config path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, resolveTargetSettings } from "../config/mod.ts";
import { DistillationError, distillLoss } from "./mod.ts";

const state = (shape: number[]) => ({
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  shape,
});
const modules = [
  { name: "fc1", type: "Linear", params: { weight: [8, 4] } },
  { name: "fc2", type: "Linear", params: { weight: [3, 8] } },
];
const student = { fc1: { _output_0: state([2, 8]) }, fc2: { _output_0: state([2, 3]) } };

function targetsOf(configList: unknown[]) {
  return resolveTargetSettings(modules, configList, "distillation").targets;
}

function throwsDistillation(fn: () => unknown, code: string, parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DistillationError);
    assert.equal(e.code, code);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" names ${p}`);
    return true;
  });
}

test("a link to a teacher module that is missing names the target, the link and the config", () => {
  const targets = targetsOf([{ op_names: ["fc1"] }, { op_names: ["fc2"], link: "head" }]);
  const teacher = { fc1: { _output_0: state([2, 8]) } };
  throwsDistillation(() => distillLoss(student, teacher, targets), "missing_teacher_state", [
    "fc2._output_0",
    "config [1]",
    '"head"',
  ]);
});

test("a linked teacher module with another output shape is an error naming both shapes", () => {
  const targets = targetsOf([{ op_names: ["fc2"] }]);
  const teacher = { fc2: { _output_0: state([2, 4]) } };
  throwsDistillation(() => distillLoss(student, teacher, targets), "shape_mismatch", [
    "fc2._output_0 (config [0]",
    "[2,3]",
    "[2,4]",
  ]);
});

test("kl on outputs of different widths is an error that says kl needs logits of one width", () => {
  const targets = targetsOf([{ op_names: ["fc2"], apply_method: "kl" }]);
  const teacher = { fc2: { _output_0: state([2, 5]) } };
  throwsDistillation(() => distillLoss(student, teacher, targets), "kl_shape", [
    '"kl" compares logits of the same width',
    '"apply_method"',
  ]);
});

test("a negative lambda is rejected by the config layer with its path", () => {
  assert.throws(() => targetsOf([{ op_names: ["fc2"], lambda: -0.5 }]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.ok(e.issues.some((i) => i.path === "[0].lambda"), JSON.stringify(e.issues));
    return true;
  });
});

test("a negative lambda in a hand-made target is a DistillationError with its path", () => {
  const targets = [{ module: "fc2", target: "_output_0", setting: { lambda: -1 }, configIndex: 3 }];
  assert.throws(() => distillLoss(student, student, targets), (e: unknown) => {
    assert.ok(e instanceof DistillationError);
    assert.equal(e.path, "[3].lambda");
    return true;
  });
});

test("a student target without a captured state is an error naming it", () => {
  const targets = [{ module: "fc3", target: "_output_0", setting: {} }];
  throwsDistillation(() => distillLoss(student, student, targets), "missing_student_state", [
    "fc3._output_0",
  ]);
});
