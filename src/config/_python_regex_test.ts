import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync } from "node:fs";
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
  ["(?P<l>layer)\\.layer", "layer.layer", true],
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
  ["[\\W]", ".", true],
  ["[\\W]", "a", false],
  ["[^\\D]", "\u0663", true],
  ["\\B", "", false],
  ["(a{10001}){0}b", "b", true],
  ["(?:a{5000}){0,1}$", "", true],
  ["\\b", "", false],
  ["(?ai)k", "\u212a", false],
  ["(?i)k", "\u212a", true],
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
      ["(?t)a", "the template flag (?t) is not supported"],
      ["(".repeat(401) + ")".repeat(401), "groups nested more than 400 deep are not supported"],
      ["a{10001}", "its repetitions expand to more than 10000 matcher states"],
      ["(a{100}){101}", "its repetitions expand to more than 10000 matcher states"],
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

test("compilePythonRegex() rejects what a linear-time matcher cannot run, naming the construct", () => {
  for (
    const [pattern, message] of [
      ["(fc)\\1", "backreference \\1 is not supported by the linear-time matcher"],
      ["(?P<l>layer)\\.(?P=l)", "backreference (?P=l) is not supported by the linear-time matcher"],
      ["fc(?=1)", "lookahead (?=...) is not supported by the linear-time matcher"],
      ["fc(?!1)", "lookahead (?!...) is not supported by the linear-time matcher"],
      [".*(?<=1)", "lookbehind (?<=...) is not supported by the linear-time matcher"],
      [".*(?<!1)", "lookbehind (?<!...) is not supported by the linear-time matcher"],
    ]
  ) {
    assert.deepEqual(compilePythonRegex(pattern), {
      ok: false,
      code: "unsupported_regex",
      message,
    });
  }
});

test("compilePythonRegex() reports a pattern CPython rejects as invalid even when it also uses an unsupported construct", () => {
  assert.deepEqual(compilePythonRegex("(?=a)(b"), {
    ok: false,
    code: "invalid_regex",
    message: "missing ), unterminated subpattern",
  });
  assert.deepEqual(compilePythonRegex("(a\\1)"), {
    ok: false,
    code: "invalid_regex",
    message: "cannot refer to an open group",
  });
});

test("compilePythonRegex() reports repeats of nothing like CPython", () => {
  for (
    const [pattern, message] of [
      ["*a", "nothing to repeat"],
      ["^*", "nothing to repeat"],
      ["a**", "multiple repeat"],
      ["a{3,2}", "min repeat greater than max repeat"],
      ["[z-a]", "bad character range z-a"],
      ["[\\d-z]", "bad character range \\d-z"],
    ]
  ) {
    assert.deepEqual(compilePythonRegex(pattern), { ok: false, code: "invalid_regex", message });
  }
});

test("compilePythonRegex() runs catastrophic-backtracking patterns in linear time on a 10,000-character name", () => {
  const long = "a".repeat(10_000);
  assert.equal(match("(.*.*)*X", long), false);
  assert.equal(match("(.*.*)*X", `${long}X`), true);
  assert.equal(match("(a+)+b", long), false);
  assert.equal(match("(a+)+b", `${long}b`), true);
  assert.equal(match("(a|aa)*c", long), false);
  assert.equal(match("(?:a*)*$", `${long}!`), false);
  assert.equal(match("(?:a*)*$", `${long}\n`), true);
  assert.equal(match(".*.*.*.*=", long.repeat(2)), false);
});

interface CorpusCase {
  readonly pattern: string;
  readonly error?: string;
  readonly unsupported?: true;
  readonly matches?: [string, boolean][];
}

const CORPUS: CorpusCase[] = JSON.parse(
  readFileSync(new URL("../../tests/fixtures/python_regex/corpus.json", import.meta.url), "utf8"),
);

test("compilePythonRegex() agrees with CPython 3.11 on every pattern and subject of the corpus", () => {
  assert.ok(CORPUS.length >= 900);
  const disagreements: string[] = [];
  for (const c of CORPUS) {
    const r = compilePythonRegex(c.pattern);
    const at = JSON.stringify(c.pattern);
    if (c.error !== undefined) {
      if (r.ok || r.code !== "invalid_regex" || r.message !== c.error) {
        disagreements.push(`${at}: CPython says ${c.error}`);
      }
    } else if (c.unsupported) {
      if (r.ok || r.code !== "unsupported_regex") disagreements.push(`${at}: not rejected`);
    } else if (!r.ok) disagreements.push(`${at}: ${r.message}`);
    else {
      for (const [subject, expected] of c.matches!) {
        if (r.regex.test(subject) !== expected) {
          disagreements.push(`${at} on ${JSON.stringify(subject)}: CPython says ${expected}`);
        }
      }
    }
  }
  assert.deepEqual(disagreements, []);
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
