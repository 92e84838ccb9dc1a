import { test } from "node:test";
import assert from "node:assert/strict";
import { groupWarnings } from "./group_warnings.ts";

test("groupWarnings keeps small groups whole, shortens large ones, keeps first-seen order", () => {
  const missing = (m: string) => `[0]: "${m}" (Linear) has no parameter "bias"; skipped`;
  const dup = (m: string) => `[1]: "${m}" target "weight" is already configured by [0]`;
  const warnings = [
    missing("fc1"),
    dup("fc1"),
    missing("fc2"),
    dup("fc2"),
    missing("fc3"),
    missing("fc4"),
    missing("fc5"),
    "the report has no evaluation",
  ];
  assert.deepEqual(groupWarnings(warnings), [
    missing("fc1"),
    missing("fc2"),
    '… and 3 more like the line above: "fc3", "fc4", "fc5"',
    dup("fc1"),
    dup("fc2"),
    "the report has no evaluation",
  ]);
  // A group of keep + 1 is printed whole: a summary line would save nothing.
  assert.deepEqual(
    groupWarnings(warnings.slice(0, 5)),
    warnings.slice(0, 5).sort((a, b) => Number(a.startsWith("[1]")) - Number(b.startsWith("[1]"))),
  );
  // Escaped quotes stay inside their quoted part; the first part that differs is named.
  const odd = ['"a\\"b" and "x"', '"a\\"b" and "y"', '"a\\"b" and "z"', '"a\\"b" and "w"'];
  assert.deepEqual(groupWarnings(odd, 1, 2), [
    odd[0],
    '… and 3 more like the line above: "y", "z", …',
  ]);
  assert.deepEqual(groupWarnings([]), []);
});

test("groupWarnings cuts a line that lists too much after the last item that fits", () => {
  const names = Array.from({ length: 400 }, (_, i) => `layer_${i}/kernel (uint16)`);
  const long = `400 weight(s) stored at 16 bits: ${names.join(", ")}`;
  const [line] = groupWarnings([long]);
  assert.ok(line.length < 1100, String(line.length));
  assert.ok(line.startsWith("400 weight(s) stored at 16 bits: layer_0/kernel (uint16), "));
  const shown = line.match(/layer_\d+\/kernel \(uint16\)/g)!.length;
  const more = Number(/\((\d+) more item\(s\), \d+ more characters/.exec(line)![1]);
  assert.equal(shown + more, 400);
  assert.match(line, /--json and the reports have the whole warning\)$/);
  // Short lines, and one long item without a list, stay readable.
  assert.deepEqual(groupWarnings(["short"]), ["short"]);
  const word = "x".repeat(2000);
  assert.equal(groupWarnings([word])[0].slice(0, 1000), word.slice(0, 1000));
});
