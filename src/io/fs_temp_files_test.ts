// Nothing left behind: a write interrupted by SIGINT or SIGTERM removes its temporary file, and a
// killed run's leftovers are removed by the next write to the same folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFileBounded, removeStaleTempFiles, writeFileAtomic } from "./fs.ts";
import { FileError } from "./file_error.ts";
import { tempDir as removedAtExit } from "../../tests/_temp_dir.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FS = join(ROOT, "src/io/fs.ts");

const tempDir = () => removedAtExit("nncompress-temp-");

/** Runs a writer that streams one chunk, says "writing" and then waits; signals it. */
async function interrupted(
  signal: "SIGINT" | "SIGTERM",
): Promise<{ code: number | null; files: string[] }> {
  const dir = tempDir();
  const script = join(dir, "writer.ts");
  writeFileSync(
    script,
    `import { exitCleanlyOnSignals, writeFileAtomic } from ${JSON.stringify(FS)};
await exitCleanlyOnSignals();
await writeFileAtomic(${JSON.stringify(join(dir, "out.bin"))}, async (sink) => {
  await sink.write(new Uint8Array(1 << 20));
  console.log("writing");
  await new Promise((r) => setTimeout(r, 60_000));
});
`,
  );
  const deno = join(ROOT, "node_modules/.bin/deno");
  const child = spawn(deno, ["run", "-A", "--quiet", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the writer never started")), 60_000);
    child.stdout.on("data", (d) => {
      if (String(d).includes("writing")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  assert.ok(readdirSync(dir).some((f) => f.includes(".tmp-")), "a temporary file while writing");
  child.kill(signal);
  const code = await new Promise<number | null>((r) =>
    child.on("exit", (c, s) => {
      // Deno's node:child_process reports an exit status of 128 + n as "killed by signal n".
      // deno-lint-ignore no-explicit-any
      const denoParent = (globalThis as any).Deno !== undefined;
      r(c ?? (denoParent && s === signal ? (signal === "SIGINT" ? 130 : 143) : null));
    })
  );
  return { code, files: readdirSync(dir).filter((f) => f !== "writer.ts") };
}

test("SIGINT during a write removes the temporary file and exits 130", async () => {
  const { code, files } = await interrupted("SIGINT");
  assert.equal(code, 130);
  assert.deepEqual(files, []);
});

test("SIGTERM during a write removes the temporary file and exits 143", async () => {
  const { code, files } = await interrupted("SIGTERM");
  assert.equal(code, 143);
  assert.deepEqual(files, []);
});

test("a killed run's temporary file is removed by the next write to the folder; live ones are kept", async () => {
  const dir = tempDir();
  const stale = join(dir, "model.onnx.tmp-999999999-0123456789ab");
  const live = join(dir, `other.onnx.tmp-${process.pid}-0123456789ab`);
  const unrelated = join(dir, "notes.tmp-1-xyz");
  for (const f of [stale, live, unrelated]) writeFileSync(f, "x");
  await writeFileAtomic(join(dir, "model.onnx"), new Uint8Array([1]));
  assert.equal(existsSync(stale), false);
  assert.equal(existsSync(live), true);
  assert.equal(existsSync(unrelated), true);
  assert.deepEqual(await removeStaleTempFiles(join(dir, "x")), []);
});

test("a write into a folder that does not exist is a FileError naming the destination", async () => {
  const out = join(tempDir(), "missing", "out.bin");
  await assert.rejects(writeFileAtomic(out, new Uint8Array(1)), (e: unknown) => {
    assert.ok(e instanceof FileError);
    assert.equal(e.path, out);
    assert.match(e.message, /^cannot write output file ".*out\.bin"/);
    return true;
  });
});

test("a producer's own error passes through a write unchanged", async () => {
  const out = join(tempDir(), "out.bin");
  const mine = new RangeError("bad tensor");
  await assert.rejects(
    writeFileAtomic(out, async () => {
      await Promise.resolve();
      throw mine;
    }),
    (e) => e === mine,
  );
  assert.equal(existsSync(out), false);
});

test("readFileBounded refuses devices, FIFOs, folders and files over the limit with a path", async () => {
  const dir = tempDir();
  await assert.rejects(
    readFileBounded("/dev/zero", { maxBytes: 100, label: "config file" }),
    (e: unknown) => {
      assert.ok(e instanceof FileError);
      assert.equal(e.code, "not_regular");
      assert.match(e.message, /"\/dev\/zero"/);
      return true;
    },
  );
  const zeros = await readFileBounded("/dev/zero", {
    maxBytes: 100,
    label: "config file",
    allowSpecial: true,
  })
    .catch((e) => e);
  assert.ok(
    zeros instanceof FileError && zeros.code === "too_large",
    "a device is read up to the limit only",
  );
  await assert.rejects(
    readFileBounded(dir, { maxBytes: 100, label: "config file" }),
    /it is a folder/,
  );
  writeFileSync(join(dir, "big.json"), "x".repeat(200));
  await assert.rejects(
    readFileBounded(join(dir, "big.json"), { maxBytes: 100, label: "config file" }),
    /larger than 100 bytes/,
  );
  await assert.rejects(
    readFileBounded(join(dir, "none.json"), { maxBytes: 100, label: "config file" }),
    /no such file/,
  );
  const fifo = join(dir, "fifo");
  const mk = spawn("mkfifo", [fifo]);
  await new Promise((r) => mk.on("exit", r));
  if (existsSync(fifo)) {
    await assert.rejects(
      readFileBounded(fifo, { maxBytes: 100, label: "config file" }),
      /not a regular file/,
    );
  }
});
