import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compilePythonRegex } from "./_python_regex.ts";

function match(pattern: string, name: string): boolean {
  const r = compilePythonRegex(pattern);
  if (!r.ok) throw new Error(r.message);
  return r.regex.test(name);
}

// [pattern, subject, what Python's re.match returns] — each row checked with CPython 3.11
const PYTHON: [string, string, boolean][] = [
  ["conv", "conv1", true],
  ["1", "conv1", false],
  [".*1$", "fc1", true],
  [".*1$", "fc10", false],
  ["fc1$", "fc1\n", true],
  ["fc1\\Z", "fc1\n", false],
  ["(?P<l>layer)\\.(?P=l)", "layer.layer", true],
  ["\\d+$", "\u0663", true],
  ["\\w+$", "\u00e9", true],
  ["^.$", "\u{1f600}", true],
  ["a{,2}b", "aab", true],
  ["a{", "a{", true],
  ["a{}", "a{}", true],
  ["a{2}", "aa", true],
  ["[]a]", "]", true],
  ["\\:", ":", true],
  ["(?i)FC", "fc1", true],
  ["(?s)a.b", "a\nb", true],
  ["a.b", "a\nb", false],
  ["a.b", "a\rb", true],
  ["\\bfc", "fc1", true],
  ["x\\b", "x\u00e9", false],
  ["\\x41", "A", true],
  ["\\101", "A", true],
  ["[\\d]", "5", true],
  ["[^\\s]", "a", true],
  ["(?a)\\d", "\u0663", false],
  ["\\Afc", "fc", true],
  ["[\u{1f600}-\u{1f602}]", "\u{1f601}", true],
  ["\\s", "\x1c", true],
  ["\\s", "\ufeff", false],
  ["layers\\.\\d+\\.attn", "layers.12.attn.q", true],
  ["(?#comment)fc", "fc", true],
];

for (const [pattern, subject, expected] of PYTHON) {
  test(`compilePythonRegex() matches ${JSON.stringify(pattern)} on ${JSON.stringify(subject)} like re.match (${expected})`, () => {
    assert.equal(match(pattern, subject), expected);
  });
}

test("compilePythonRegex() reports Python-only syntax it does not support", () => {
  for (
    const [pattern, message] of [
      ["(?x) a b", "verbose patterns (?x) are not supported"],
      ["(?>a)", "atomic groups (?>...) are not supported"],
      ["a*+", "possessive quantifiers are not supported"],
      ["(a)(?(1)b|c)", "conditional groups (?(...)...) are not supported"],
      ["(?i:a)", "scoped inline flags (?flags:...) are not supported"],
      ["\\N{DIGIT ONE}", "named Unicode escapes \\N{...} are not supported"],
      ["[\\W]", "\\W inside a character class is not supported"],
    ]
  ) {
    assert.deepEqual(compilePythonRegex(pattern), {
      ok: false,
      code: "unsupported_regex",
      message,
    });
  }
});

test("compilePythonRegex() reports patterns Python rejects as invalid", () => {
  for (
    const [pattern, message] of [
      ["fc(1", "missing ), unterminated subpattern"],
      ["fc1)", "unbalanced parenthesis"],
      ["\\q", "bad escape \\q"],
      ["[a-", "unterminated character set"],
      ["a(?i)", "global flags not at the start of the expression"],
      ["\\x4", "incomplete escape \\x4"],
    ]
  ) {
    assert.deepEqual(compilePythonRegex(pattern), { ok: false, code: "invalid_regex", message });
  }
});

test("compilePythonRegex() reports a JavaScript compile failure as invalid", () => {
  const r = compilePythonRegex("*a");
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "invalid_regex");
});

test("compilePythonRegex() never throws, whatever the pattern", () => {
  const chars = fc.constantFrom(..."()[]{}?*+|^$.\\-:,<>=!#PZAbBdDwWsSx0123aiu\n");
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 12 }).map((a) => a.join("")), (pattern) => {
      const r = compilePythonRegex(pattern);
      if (r.ok) r.regex.test("fc1");
    }),
    { numRuns: 2000, seed: 3 },
  );
});
