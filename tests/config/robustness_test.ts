// Untrusted config data: wrong shapes, prototype keys, deep or huge JSON, frozen and cyclic
// inputs. Everything is rejected cleanly, the caller's objects never change and no prototype
// is ever written.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  convertLegacyConfigList,
  explain,
  type ModuleInfo,
  resolveTargetSettings,
  selectModules,
  validateConfigList,
} from "../../src/config/mod.ts";

const MODULES: ModuleInfo[] = [
  { name: "", type: "Net" },
  { name: "fc1", type: "Linear", params: { weight: [8, 4], bias: [8] } },
  { name: "fc2", type: "Linear", params: { weight: [2, 8], bias: [2] } },
];

function codes(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.code} ${i.path}`);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function prototypeIsClean(): void {
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);
}

test("config lists that are not arrays are rejected by every entry point", () => {
  for (const bad of [null, undefined, "op_types", 42, { op_types: ["Linear"] }, new Map()]) {
    assert.deepEqual(codes(() => validateConfigList(bad, "pruning")), ["not_array "]);
    assert.deepEqual(codes(() => convertLegacyConfigList(bad, "pruning")), ["not_array "]);
    assert.deepEqual(codes(() => resolveTargetSettings(MODULES, bad, "pruning")), ["not_array "]);
    assert.deepEqual(explain(MODULES, bad, "pruning").issues.map((i) => i.code), ["not_array"]);
  }
});

test("sub-configs that are not plain objects are each reported", () => {
  const list = [null, 1, "fc1", [], true, { op_types: ["Linear"] }];
  assert.deepEqual(codes(() => validateConfigList(list, "pruning")), [
    "not_object [0]",
    "not_object [1]",
    "not_object [2]",
    "not_object [3]",
    "not_object [4]",
  ]);
});

test("class instances, Maps, functions and getters are not plain data", () => {
  class Setting {
    sparse_ratio = 0.5;
  }
  let called = false;
  const withGetter = {
    op_types: ["Linear"],
    get sparse_ratio() {
      called = true;
      return 0.5;
    },
  };
  assert.deepEqual(codes(() => validateConfigList([new Setting()], "pruning")), [
    "not_plain_data [0]",
  ]);
  assert.deepEqual(
    codes(() =>
      validateConfigList([{ op_types: ["Linear"], target_settings: new Map() }], "pruning")
    ),
    ["not_plain_data [0].target_settings"],
  );
  assert.deepEqual(
    codes(() => validateConfigList([{ op_types: ["Linear"], sparse_ratio: () => 0.5 }], "pruning")),
    ["not_plain_data [0].sparse_ratio"],
  );
  assert.deepEqual(codes(() => validateConfigList([withGetter], "pruning")), [
    "not_plain_data [0].sparse_ratio",
  ]);
  assert.equal(called, false);
});

test("__proto__, constructor and prototype keys are rejected anywhere and pollute nothing", () => {
  const list = JSON.parse(`[{
    "op_types": ["Linear"], "__proto__": {"polluted": true},
    "target_settings": {"__proto__": {"polluted": true}, "weight": {"constructor": {"polluted": true}}},
    "align": {"prototype": {"polluted": true}, "module_name": null, "target_name": "weight", "dims": [0]}
  }]`);
  assert.deepEqual(codes(() => validateConfigList(list, "pruning")), [
    "forbidden_key [0].__proto__",
    "forbidden_key [0].target_settings.__proto__",
    "forbidden_key [0].target_settings.weight.constructor",
    "forbidden_key [0].align.prototype",
  ]);
  assert.deepEqual(explain(MODULES, list, "pruning").issues.length, 4);
  prototypeIsClean();
});

test("prototype keys in an extra registry are rejected and pollute nothing", () => {
  const registry = JSON.parse(`{"pruning": {"__proto__": {"weight": {"sparse_ratio": 0.5}}}}`);
  assert.deepEqual(
    codes(() =>
      resolveTargetSettings(MODULES, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], "pruning", {
        registry,
      })
    ),
    ["forbidden_key registry.pruning.__proto__"].map((s) =>
      s.replace("forbidden_key", "invalid_registry")
    ),
  );
  prototypeIsClean();
});

test("module names and types like __proto__ or constructor are plain strings", () => {
  const modules: ModuleInfo[] = [
    { name: "__proto__", type: "Linear", params: { weight: [2, 2], bias: [2] } },
    { name: "constructor", type: "constructor" },
    { name: "toString", type: "hasOwnProperty" },
  ];
  const r = resolveTargetSettings(modules, [{ op_names_re: [".*"], sparse_ratio: 0.5 }], "pruning");
  assert.deepEqual(r.targets.map((t) => `${t.module}.${t.target}`), [
    "__proto__.weight",
    "__proto__.bias",
  ]);
  assert.deepEqual(r.warnings.map((w) => w.code), ["skipped_module", "skipped_module"]);
  prototypeIsClean();
});

test("data nested deeper than 32 levels is rejected without recursing further", () => {
  const deep = JSON.parse("[".repeat(5000) + "]".repeat(5000));
  assert.deepEqual(
    codes(() => validateConfigList([{ op_types: ["Linear"], granularity: deep }], "pruning")),
    [`too_deep [0].granularity${"[0]".repeat(30)}`],
  );
});

test("a cyclic object is rejected as too deep", () => {
  const config: Record<string, unknown> = { op_types: ["Linear"] };
  config.target_settings = { weight: config };
  const [issue] = codes(() => validateConfigList([config], "pruning"));
  assert.match(issue, /^too_deep \[0\]\.target_settings\.weight\.target_settings/);
});

test("more than 10,000 sub-configs are rejected", () => {
  const list = Array.from({ length: 10_001 }, () => ({ op_types: ["Linear"] }));
  assert.deepEqual(codes(() => validateConfigList(list, "pruning")), ["too_large "]);
});

test("more than 100,000 entries in all are rejected", () => {
  const list = Array.from({ length: 11 }, () => ({ op_names: new Array(10_000).fill("fc1") }));
  assert.deepEqual(codes(() => validateConfigList(list, "pruning")), ["too_large [9].op_names"]);
});

test("a string longer than 10,000 characters is rejected", () => {
  assert.deepEqual(
    codes(() => validateConfigList([{ op_names: ["x".repeat(10_001)] }], "pruning")),
    ["too_large [0].op_names[0]"],
  );
});

test("10,000 valid sub-configs resolve", () => {
  const list = Array.from(
    { length: 10_000 },
    (_, i) => ({ op_names: [i % 2 ? "fc1" : "fc2"], sparse_ratio: 0.5 }),
  );
  const r = resolveTargetSettings(MODULES, list, "pruning");
  assert.equal(r.targets.length, 4);
  assert.equal(r.warnings.length, 9_998 * 2);
});

test("non-finite numbers are type errors", () => {
  assert.deepEqual(
    codes(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: NaN, sparse_threshold: Infinity }],
        "pruning",
      )
    ),
    ["invalid_type [0].sparse_ratio", "invalid_type [0].sparse_threshold", "exclusive_keys [0]"],
  );
});

test("deeply frozen inputs work and are left unchanged by every entry point", () => {
  const list = deepFreeze([
    { op_types: ["Linear"], sparsity: 0.5 },
    { exclude: true, op_names: ["fc2"] },
  ]);
  const modules = deepFreeze(structuredClone(MODULES));
  const before = structuredClone(list);
  const converted = convertLegacyConfigList(list, "pruning");
  validateConfigList(list, "pruning");
  const resolved = resolveTargetSettings(modules, list, "pruning", { algorithm: "L1NormPruner" });
  explain(modules, list, "pruning");
  selectModules(modules, list[0], { mode: "pruning" });
  assert.deepEqual(list, before);
  assert.deepEqual(resolved.targets.map((t) => `${t.module}.${t.target}`), [
    "fc1.weight",
    "fc1.bias",
  ]);
  assert.equal(Object.isFrozen(converted.configList[0]), false);
});

test("results are copies: mutating them changes neither the input nor the next result", () => {
  const list = [{ op_types: ["Linear"], target_settings: { weight: { sparse_ratio: 0.5 } } }];
  const before = structuredClone(list);
  const first = validateConfigList(list, "pruning");
  (first.configList[0].target_settings!.weight as { sparse_ratio: number }).sparse_ratio = 0.9;
  const r = resolveTargetSettings(MODULES, list, "pruning");
  (r.targets[0].setting as { sparse_ratio: number }).sparse_ratio = 0.1;
  assert.deepEqual(list, before);
  const again = resolveTargetSettings(MODULES, list, "pruning");
  assert.equal((again.targets[0].setting as { sparse_ratio: number }).sparse_ratio, 0.5);
});

test("the built-in registries cannot be modified", async () => {
  const { PRUNING_REGISTRY } = await import("../../src/config/mod.ts");
  assert.throws(() => {
    (PRUNING_REGISTRY.Linear.weight as { sparse_ratio: number | null }).sparse_ratio = 0.5;
  }, TypeError);
});

test("a malformed module list is a TypeError", () => {
  assert.throws(() => resolveTargetSettings("fc1" as unknown as ModuleInfo[], [], "pruning"), {
    name: "TypeError",
    message: '"modules" must be a list of {name, type}: current value is "fc1"',
  });
  assert.throws(
    () =>
      resolveTargetSettings(
        [{ name: "a", type: "Linear" }, { name: "a", type: "Linear" }],
        [],
        "pruning",
      ),
    { name: "TypeError", message: '"modules[1]".name "a" appears twice' },
  );
  assert.throws(() => validateConfigList([], "prune" as "pruning"), {
    name: "TypeError",
    message:
      '"mode" must be one of "pruning", "quantization", "distillation": current value is "prune"',
  });
});
