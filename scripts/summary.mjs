// Sums the results of every test runner in a folder and prints "N passed, N failed[, N skipped]".
// JUnit files (*.xml) from Deno and Bun are counted per <testcase>; JSON files (*.json) written by
// the browser and edge checks hold {passed, failed, skipped}. A runner that produced no file at
// all counts as one failure, so a crashed runner can never look green.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const expected = ["deno.xml", "bun.xml", "browser.json", "edge.json"];
let passed = 0;
let failed = 0;
let skipped = 0;
/** What failed, with the runner's message and stack, printed before the totals. */
const failures = [];
const unescape = (t) =>
  t.replace(/&#10;/g, "\n").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, "&");
// Extra result files (e.g. cargo.json, checks.json written by .ci/run) are counted too.
const extras = readdirSync(dir).filter((f) => /\.(json|xml)$/.test(f) && !expected.includes(f))
  .sort();
for (const name of [...expected, ...extras]) {
  const file = join(dir, name);
  if (!existsSync(file)) {
    console.log(`${name}: missing (the runner crashed before writing results)`);
    failed += 1;
    continue;
  }
  const text = readFileSync(file, "utf8");
  let p = 0, f = 0, s = 0;
  if (name.endsWith(".json")) {
    const r = JSON.parse(text);
    p = r.passed ?? 0;
    f = r.failed ?? 0;
    s = r.skipped ?? 0;
  } else {
    for (const m of text.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const body = m[2] ?? "";
      if (/<(failure|error)\b/.test(body)) {
        f += 1;
        const testName = /\bname="([^"]*)"/.exec(m[0])?.[1] ?? "?";
        const detail = /<(?:failure|error)\b[^>]*?(?:\/>|>([\s\S]*?)<\/(?:failure|error)>)/.exec(
          body,
        );
        const message = /\bmessage="([^"]*)"/.exec(detail?.[0] ?? "")?.[1] ?? "";
        failures.push(
          `${name}: ${unescape(testName)}\n${unescape(detail?.[1] || message).slice(0, 2000)}`,
        );
      } else if (/<skipped\b/.test(body)) s += 1;
      else p += 1;
    }
    if (p + f + s === 0) {
      console.log(`${name}: no test cases recorded`);
      f = 1;
    }
  }
  console.log(`${name.replace(/\.\w+$/, "")}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}
if (failures.length > 0) {
  console.log(`== What failed (${failures.length}${failures.length > 20 ? ", the first 20" : ""})`);
  for (const f of failures.slice(0, 20)) console.log(`FAILED ${f}\n`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
