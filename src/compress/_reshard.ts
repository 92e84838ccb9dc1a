// Re-sharding of streamed safetensors outputs (`--max-shard-size`): the safetensors streams of a
// model's parts are cut into shards of at most `maxShardSize` bytes of tensor data, named like
// Hugging Face's `save_pretrained` (`model-00001-of-00003.safetensors`), each written atomically
// as its tensors arrive, then the `model.safetensors.index.json`. Memory holds one tensor.
import type { DType } from "../tensor/dtype.ts";
import { writeFileAtomic } from "../io/fs.ts";
import { shardIndexText } from "../io/safetensors/shard_index.ts";
import {
  type ByteSink,
  type SafetensorsStreamInput,
  streamSafetensors,
} from "../io/safetensors/write_safetensors.ts";

/** Writes one part's safetensors stream into a sink; returns the bytes written. */
export type PartProducer = (sink: ByteSink) => Promise<unknown>;

interface Entry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly part: number;
}

interface Header {
  readonly entries: Entry[];
  readonly metadata: Record<string, string>;
  readonly length: number;
}

/** Thrown by the sink of a dry run, once it has the header. */
class HeaderSeen extends Error {}

function parse(bytes: Uint8Array, part: number): Header {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
    string,
    { dtype: DType; shape: number[]; data_offsets: [number, number] }
  >;
  const { __metadata__: metadata, ...tensors } = json as Record<string, unknown>;
  const entries = Object.entries(tensors as typeof json)
    .map(([name, t]) => ({ name, ...t }))
    .sort((a, b) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1])
    .map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      bytes: t.data_offsets[1] - t.data_offsets[0],
      part,
    }));
  return { entries, metadata: (metadata ?? {}) as Record<string, string>, length: 8 + n };
}

/** The header a producer would write, without producing any tensor. */
async function headerOf(produce: PartProducer, part: number): Promise<Header> {
  let header: Header | undefined;
  let seen = new Uint8Array(0);
  try {
    await produce({
      write(chunk) {
        const all = new Uint8Array(seen.length + chunk.length);
        all.set(seen);
        all.set(chunk, seen.length);
        seen = all;
        if (seen.length >= 8) {
          const n = Number(new DataView(seen.buffer).getBigUint64(0, true));
          if (seen.length >= 8 + n) {
            header = parse(seen, part);
            throw new HeaderSeen();
          }
        }
      },
    });
  } catch (e) {
    if (!(e instanceof HeaderSeen)) throw e;
  }
  if (header === undefined) throw new Error("a part wrote no safetensors header");
  return header;
}

/**
 * Shards of at most `max` bytes of tensor data, in data order: a tensor that would take the
 * current shard past `max` starts a new one, and one larger than `max` gets a shard of its own.
 */
export function planShards<T extends { readonly bytes: number }>(
  entries: readonly T[],
  max: number,
): T[][] {
  const shards: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const e of entries) {
    if (current.length > 0 && (size + e.bytes > max || e.bytes > max)) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += e.bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/** `model-00001-of-00003.safetensors` for the index `model.safetensors.index.json`. */
export function shardName(stem: string, k: number, n: number): string {
  return `${stem}-${String(k).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
}

/** The metadata of a shard: its parts' (first part wins), quantization infos of its tensors. */
function shardMetadata(
  shard: readonly Entry[],
  headers: readonly Header[],
): Record<string, string> | undefined {
  const parts = [...new Set(shard.map((e) => e.part))];
  const out: Record<string, string> = {};
  const names = new Set(shard.map((e) => e.name));
  for (const p of parts) {
    for (const [k, v] of Object.entries(headers[p].metadata)) {
      if (k === "nncompress.quantization") {
        const infos = { ...JSON.parse(out[k] ?? "{}"), ...JSON.parse(v) };
        out[k] = JSON.stringify(
          Object.fromEntries(Object.entries(infos).filter(([name]) => names.has(name))),
        );
      } else if (!(k in out)) out[k] = v;
    }
  }
  return Object.keys(out).length === 0 &&
      parts.every((p) => Object.keys(headers[p].metadata).length === 0)
    ? undefined
    : out;
}

/** Hands a part's tensors, one at a time, from its stream to the shard writers. */
class Relay {
  #queue: { bytes: Uint8Array; taken: () => void }[] = [];
  #wanted: ((bytes: Uint8Array) => void) | undefined;
  #release: (() => void) | undefined;
  #failed: unknown;
  #failedSet = false;

  readonly #puts = new Set<(e: unknown) => void>();

  /** Offers a tensor; resolves once the next tensor is asked for (this one is written). */
  put(bytes: Uint8Array): Promise<void> {
    if (this.#failedSet) return Promise.reject(this.#failed);
    return new Promise<void>((resolve, reject) => {
      this.#puts.add(reject);
      const taken = () => {
        this.#puts.delete(reject);
        resolve();
      };
      if (this.#wanted !== undefined) {
        const w = this.#wanted;
        this.#wanted = undefined;
        this.#release = taken;
        w(bytes);
      } else this.#queue.push({ bytes, taken });
    });
  }

  /** The next tensor's bytes (the previous one is released). */
  take(): Promise<Uint8Array> {
    this.release();
    if (this.#failedSet) return Promise.reject(this.#failed);
    const next = this.#queue.shift();
    if (next !== undefined) {
      this.#release = next.taken;
      return Promise.resolve(next.bytes);
    }
    return new Promise((resolve, reject) => {
      this.#wanted = resolve;
      this.#reject = reject;
    });
  }

  #reject: ((e: unknown) => void) | undefined;

  release(): void {
    const r = this.#release;
    this.#release = undefined;
    r?.();
  }

  /** Fails the waiting and later `take`s and `put`s (the producer stops at its next write). */
  fail(e: unknown): void {
    this.#failed = e;
    this.#failedSet = true;
    this.#reject?.(e);
    this.#wanted = undefined;
    for (const reject of this.#puts) reject(e);
    this.#puts.clear();
  }
}

/**
 * Writes the parts' streams as shards of at most `maxShardSize` bytes next to `outputIndex`
 * (named after it: `<stem>-0000k-of-0000n.safetensors`), then the index; returns the bytes
 * written. Each producer is first run without tensor data to read its header.
 */
export async function writeResharded(
  producers: readonly PartProducer[],
  outputIndex: string,
  maxShardSize: number,
  indexMetadata: Readonly<Record<string, unknown>> = {},
): Promise<number> {
  const headers: Header[] = [];
  for (const [i, p] of producers.entries()) headers.push(await headerOf(p, i));
  const entries = headers.flatMap((h) => h.entries);
  const shards = planShards(entries, maxShardSize);
  const slash = Math.max(outputIndex.lastIndexOf("/"), outputIndex.lastIndexOf("\\"));
  const folder = outputIndex.slice(0, slash + 1);
  const stem = outputIndex.slice(slash + 1, -".safetensors.index.json".length);
  const names = shards.map((_, k) => shardName(stem, k + 1, shards.length));
  const relays = producers.map(() => new Relay());
  let written = 0;
  // A part's producer starts when its first tensor is asked for and feeds its relay tensor by
  // tensor (zero-length tensors are not relayed): only the parts of the shard being written run.
  const running: Promise<void>[] = [];
  const started = new Set<number>();
  const start = (i: number) => {
    if (started.has(i)) return;
    started.add(i);
    const h = headers[i];
    const lengths = h.entries.map((e) => e.bytes).filter((n) => n > 0);
    const relay = relays[i];
    let skip = h.length;
    let k = 0;
    let buffer: Uint8Array | undefined;
    let filled = 0;
    const run = producers[i]({
      async write(chunk) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
        }
        while (chunk.length > 0) {
          if (k >= lengths.length) throw new Error("a part wrote more bytes than its header");
          const need = lengths[k] - filled;
          if (buffer === undefined && chunk.length === need) {
            // The usual case: one write per tensor, handed over without a copy.
            k++;
            await relay.put(chunk);
            return;
          }
          buffer ??= new Uint8Array(lengths[k]);
          const n = Math.min(need, chunk.length);
          buffer.set(chunk.subarray(0, n), filled);
          filled += n;
          chunk = chunk.subarray(n);
          if (filled === lengths[k]) {
            const b = buffer;
            buffer = undefined;
            filled = 0;
            k++;
            await relay.put(b);
          }
        }
      },
    }).then(() => {}, (e) => {
      relay.fail(e);
      throw e;
    });
    run.catch(() => {});
    running.push(run);
  };
  for (const [s, shard] of shards.entries()) {
    const tensors: SafetensorsStreamInput[] = shard.map((e) => ({
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      data: () => {
        if (e.bytes === 0) return new Uint8Array(0);
        start(e.part);
        return relays[e.part].take();
      },
    }));
    const metadata = shardMetadata(shard, headers);
    try {
      await writeFileAtomic(folder + names[s], async (sink) => {
        written += await streamSafetensors(
          tensors,
          sink,
          metadata === undefined ? {} : { metadata },
        );
      }, { label: "model shard" });
    } catch (e) {
      // Stop the producers; a producer's own error is the one to report.
      for (const r of relays) r.fail(e);
      for (const r of await Promise.allSettled(running)) {
        if (r.status === "rejected" && r.reason !== e) throw r.reason;
      }
      throw e;
    }
    for (const e of shard) relays[e.part].release();
  }
  for (const r of running) await r;
  const map = new Map<string, string>();
  shards.forEach((shard, s) => shard.forEach((e) => map.set(e.name, names[s])));
  const total = entries.reduce((n, e) => n + e.bytes, 0);
  const text = new TextEncoder().encode(shardIndexText(map, total, indexMetadata));
  await writeFileAtomic(outputIndex, text, { label: "shard index" });
  return written + text.length;
}
