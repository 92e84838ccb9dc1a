/**
 * A regular-expression matcher whose time is linear in the subject: the pattern becomes a
 * Thompson NFA and the subject is read once, left to right, with the set of live states (each
 * state is in the set at most once, so a step costs at most the program's size). There is no
 * backtracking, so no pattern — `(.*.*)*X`, `(a+)+b` — can take exponential time: a test costs
 * O(subject length × program size), and the program size is capped at {@linkcode MAX_PROGRAM}.
 * The state sets met are cached as the states of a DFA built lazily (at most 256, then the
 * cache is dropped), so that once warm a code point costs one table look-up.
 *
 * Only the existence of a match anchored at the start is computed (Python's `re.match` as a
 * boolean), which needs no capture groups and no match priorities.
 *
 * One-character tests are delegated to a JavaScript `u` (or `iu`) regular expression that matches
 * exactly one code point — `[\p{L}\p{N}_]`, `\u{41}`, `[^\n]` — so Unicode properties and case
 * folding come from the JavaScript engine without shipping tables. Such a test has no quantifier
 * and cannot backtrack; its answers are cached per code point.
 *
 * @module
 */

/**
 * Largest program (NFA states) a pattern may expand to. Counted repetitions are expanded, so
 * `.{0,1000}` costs 2,000 states; a subject of n code points costs at most n × 10,000 steps.
 */
export const MAX_PROGRAM = 10_000;

/** Options of a {@linkcode CharSet}. */
export interface CharSetOptions {
  /** The set is the complement of the class and the union (`[^…]`). */
  readonly negate?: boolean;
  /** Sets whose members also belong to the class (`\W` inside `[…]`). */
  readonly union?: readonly CharSet[];
}

/**
 * A set of code points, tested through a one-character JavaScript regular expression
 * `^[body]$` (plus the members of `union`, the whole complemented with `negate`).
 */
export class CharSet {
  readonly #re: RegExp;
  readonly #asciiFold: boolean;
  readonly #negate: boolean;
  readonly #union: readonly CharSet[];
  readonly #ascii = new Uint8Array(128);
  readonly #other = new Map<number, boolean>();

  /**
   * @param body A JavaScript `u`-mode class body (`a-z`, `\u{2e}`, `\p{L}\p{N}_`).
   * @param fold `"unicode"` for JavaScript's `iu` case folding, `"ascii"` to fold A-Z/a-z only,
   *   `"none"` for exact matching.
   * @param options Negation and extra member sets.
   * @throws {SyntaxError} When JavaScript rejects the body.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CharSet } from "./_linear_regex.ts";
   * const word = new CharSet("\\p{L}\\p{N}_", "none");
   * assert.equal(word.has("é".codePointAt(0)!), true);
   * assert.equal(word.has(".".codePointAt(0)!), false);
   * const notWord = new CharSet("\\p{L}\\p{N}_", "none", { negate: true });
   * assert.equal(new CharSet("a", "none", { union: [notWord] }).has(".".codePointAt(0)!), true);
   * ```
   */
  constructor(body: string, fold: "unicode" | "ascii" | "none", options: CharSetOptions = {}) {
    this.#re = new RegExp(`^[${body}]$`, fold === "unicode" ? "iu" : "u");
    this.#asciiFold = fold === "ascii";
    this.#negate = options.negate ?? false;
    this.#union = options.union ?? [];
  }

  /**
   * Whether a code point is in the set.
   *
   * @param cp A code point (a lone surrogate is a code point of its own, as in Python).
   * @returns `true` when it is.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CharSet } from "./_linear_regex.ts";
   * assert.equal(new CharSet("k", "ascii").has("K".codePointAt(0)!), true);
   * assert.equal(new CharSet("k", "ascii").has(0x212a), false); // KELVIN SIGN folds only in Unicode mode
   * assert.equal(new CharSet("k", "unicode").has(0x212a), true);
   * ```
   */
  has(cp: number): boolean {
    if (cp < 128) {
      let v = this.#ascii[cp];
      if (v === 0) {
        v = this.#compute(cp) ? 1 : 2;
        this.#ascii[cp] = v;
      }
      return v === 1;
    }
    let hit = this.#other.get(cp);
    if (hit === undefined) {
      hit = this.#compute(cp);
      if (this.#other.size < 4096) this.#other.set(cp, hit);
    }
    return hit;
  }

  #compute(cp: number): boolean {
    const c = String.fromCodePoint(cp);
    let hit = this.#re.test(c) ||
      (this.#asciiFold && /^[A-Za-z]$/.test(c) && this.#re.test(String.fromCharCode(cp ^ 0x20)));
    for (let i = 0; !hit && i < this.#union.length; i++) hit = this.#union[i].has(cp);
    return hit !== this.#negate;
  }
}

/**
 * A zero-width assertion. The ends: `text_start` (`\A`, `^`), `line_start` (`^` with `(?m)`),
 * `text_end` (`\Z`), `end` (Python's `$`: the end or before a final `\n`), `line_end` (`$` with
 * `(?m)`: the end or before any `\n`); and word boundaries on the node's `word` set, which never
 * hold in an empty subject (CPython 3.11).
 */
export type Assertion =
  | "text_start"
  | "line_start"
  | "text_end"
  | "end"
  | "line_end"
  | "word_boundary"
  | "not_word_boundary";

/** A parsed pattern: what the matcher runs. */
export type RegexNode =
  | { readonly kind: "empty" }
  | { readonly kind: "char"; readonly set: CharSet }
  | { readonly kind: "assert"; readonly assertion: Assertion; readonly word?: CharSet }
  | { readonly kind: "concat"; readonly items: readonly RegexNode[] }
  | { readonly kind: "alternate"; readonly items: readonly RegexNode[] }
  | {
    readonly kind: "repeat";
    readonly item: RegexNode;
    readonly min: number;
    /** `Infinity` when unbounded. */
    readonly max: number;
  };

/**
 * Number of program states a node expands to, or `Infinity` once past `limit`.
 *
 * @param node The pattern.
 * @param limit Where to stop counting.
 * @returns The state count (before the final match state).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CharSet, programSize } from "./_linear_regex.ts";
 * const a = { kind: "char", set: new CharSet("a", "none") } as const;
 * assert.equal(programSize({ kind: "repeat", item: a, min: 2, max: 4 }, 100), 6);
 * assert.equal(programSize({ kind: "repeat", item: a, min: 0, max: 1e9 }, 100), Infinity);
 * ```
 */
export function programSize(node: RegexNode, limit: number): number {
  let size: number;
  switch (node.kind) {
    case "empty":
      return 0;
    case "char":
    case "assert":
      return 1;
    case "concat":
    case "alternate":
      size = node.kind === "alternate" ? 2 * (node.items.length - 1) : 0;
      for (const item of node.items) size += programSize(item, limit);
      break;
    case "repeat": {
      if (node.max === 0) return 0;
      const s = programSize(node.item, limit);
      if (s === Infinity) return Infinity;
      size = node.max === Infinity
        ? (node.min === 0 ? s + 2 : node.min * s + 1)
        : node.min * s + (node.max - node.min) * (s + 1);
    }
  }
  return size > limit ? Infinity : size;
}

const CHAR = 0;
const SPLIT = 1;
const JMP = 2;
const ASSERT = 3;
const MATCH = 4;

// Context bits of a position, which decide the zero-width assertions there.
const AT_START = 1;
const PREV_NEWLINE = 2;
const PREV_WORD = 4;
const AT_END = 8;
const NEXT_NEWLINE = 16;
const NEXT_IS_LAST = 32;
const NEXT_WORD = 64;

/** Context bits each assertion reads. */
const READS: Readonly<Record<Assertion, number>> = {
  text_start: AT_START,
  line_start: AT_START | PREV_NEWLINE,
  text_end: AT_END,
  end: AT_END | NEXT_NEWLINE | NEXT_IS_LAST,
  line_end: AT_END | NEXT_NEWLINE,
  word_boundary: AT_START | AT_END | PREV_WORD | NEXT_WORD,
  not_word_boundary: AT_START | AT_END | PREV_WORD | NEXT_WORD,
};

function holds(assertion: Assertion, ctx: number): boolean {
  switch (assertion) {
    case "text_start":
      return (ctx & AT_START) !== 0;
    case "line_start":
      return (ctx & (AT_START | PREV_NEWLINE)) !== 0;
    case "text_end":
      return (ctx & AT_END) !== 0;
    case "end":
      return (ctx & AT_END) !== 0 ||
        (ctx & (NEXT_NEWLINE | NEXT_IS_LAST)) === (NEXT_NEWLINE | NEXT_IS_LAST);
    case "line_end":
      return (ctx & (AT_END | NEXT_NEWLINE)) !== 0;
    case "word_boundary":
    case "not_word_boundary": {
      if ((ctx & (AT_START | AT_END)) === (AT_START | AT_END)) return false; // empty subject
      const boundary = ((ctx & PREV_WORD) !== 0) !== ((ctx & NEXT_WORD) !== 0);
      return boundary === (assertion === "word_boundary");
    }
  }
}

/**
 * A state of the lazily built DFA: the NFA's character states live at a position (after
 * following every split, jump and assertion there), and the transitions computed so far.
 */
interface DfaState {
  readonly pcs: Int32Array;
  /** The match state was reached: the pattern matches. */
  readonly matched: boolean;
  /** Next state by `cp * 128 + context`, for what the ASCII table does not hold. */
  readonly other: Map<number, number>;
}

/** Context bits that can be set away from both ends of the subject. */
const INNER_BITS = PREV_NEWLINE | PREV_WORD | NEXT_NEWLINE | NEXT_WORD;

/** DFA states kept per pattern; past this the cache is dropped and rebuilt as it goes. */
const MAX_DFA_STATES = 256;

/** A compiled pattern: `test` tells whether it matches at the start of a subject. */
export class LinearRegex {
  readonly #op: Uint8Array;
  readonly #x: Int32Array;
  readonly #y: Int32Array;
  readonly #sets: (CharSet | undefined)[];
  readonly #assertions: (Assertion | undefined)[];
  /** Context bits any assertion of the program reads (0: none, the DFA ignores context). */
  readonly #reads: number;
  readonly #word: CharSet | undefined;
  readonly #mark: Uint32Array;
  #gen = 0;
  readonly #stack: Int32Array;
  readonly #list: Int32Array;
  #states: DfaState[] = [];
  /** `state * 128 + cp` → next state + 1 (0: not computed), for ASCII at context 0. */
  #table = new Int32Array(16 * 128);
  /** Per state: 1 matched, 2 dead (no live NFA state), 0 otherwise. */
  #done = new Uint8Array(16);
  #ids = new Map<string, number>();
  #starts = new Map<number, number>();

  /**
   * @param node The pattern, at most {@linkcode MAX_PROGRAM} states once expanded.
   * @throws {RangeError} When it is larger.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CharSet, LinearRegex } from "./_linear_regex.ts";
   * const any = { kind: "char", set: new CharSet("\\n", "none", { negate: true }) } as const;
   * const re = new LinearRegex({ kind: "repeat", item: any, min: 0, max: Infinity });
   * assert.equal(re.test("anything"), true);
   * ```
   */
  constructor(node: RegexNode) {
    const size = programSize(node, MAX_PROGRAM);
    if (size === Infinity) {
      throw new RangeError(`the pattern expands to more than ${MAX_PROGRAM} matcher states`);
    }
    const n = size + 1;
    this.#op = new Uint8Array(n);
    this.#x = new Int32Array(n);
    this.#y = new Int32Array(n);
    this.#sets = new Array(n);
    this.#assertions = new Array(n);
    let reads = 0;
    let word: CharSet | undefined;
    let pc = 0;
    const emit = (op: number, x = 0, y = 0): number => {
      this.#op[pc] = op;
      this.#x[pc] = x;
      this.#y[pc] = y;
      return pc++;
    };
    const compile = (node: RegexNode): void => {
      switch (node.kind) {
        case "empty":
          return;
        case "char":
          this.#sets[emit(CHAR)] = node.set;
          return;
        case "assert":
          this.#assertions[emit(ASSERT)] = node.assertion;
          reads |= READS[node.assertion];
          word ??= node.word;
          return;
        case "concat":
          for (const item of node.items) compile(item);
          return;
        case "alternate": {
          const jumps: number[] = [];
          node.items.forEach((item, i) => {
            if (i === node.items.length - 1) return compile(item);
            const split = emit(SPLIT, pc + 1);
            compile(item);
            jumps.push(emit(JMP));
            this.#y[split] = pc;
          });
          for (const j of jumps) this.#x[j] = pc;
          return;
        }
        case "repeat": {
          const { item, min, max } = node;
          if (max === Infinity && min > 0) {
            for (let i = 1; i < min; i++) compile(item);
            const start = pc;
            compile(item);
            emit(SPLIT, start, pc + 1);
            return;
          }
          for (let i = 0; i < min; i++) compile(item);
          if (max === Infinity) {
            const split = emit(SPLIT, pc + 1);
            compile(item);
            emit(JMP, split);
            this.#y[split] = pc;
            return;
          }
          const splits: number[] = [];
          for (let i = min; i < max; i++) {
            splits.push(emit(SPLIT, pc + 1));
            compile(item);
          }
          for (const s of splits) this.#y[s] = pc;
        }
      }
    };
    compile(node);
    emit(MATCH);
    this.#reads = reads;
    this.#word = word;
    this.#mark = new Uint32Array(n);
    this.#stack = new Int32Array(n);
    this.#list = new Int32Array(n);
  }

  /** Number of program states, the final match state included. */
  get size(): number {
    return this.#op.length;
  }

  /**
   * Whether the pattern matches at the start of `subject` (Python's `re.match(...) is not None`).
   * Time is O(subject length × {@linkcode LinearRegex.size}) at worst; once the DFA states a
   * subject walks through are cached, a code point costs one table look-up.
   *
   * @param subject The string to match, read as code points.
   * @returns `true` when a match starting at 0 exists.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CharSet, LinearRegex } from "./_linear_regex.ts";
   * const a = { kind: "char", set: new CharSet("a", "none") } as const;
   * const b = { kind: "char", set: new CharSet("b", "none") } as const;
   * const aPlus = { kind: "repeat", item: a, min: 1, max: Infinity } as const;
   * const re = new LinearRegex({
   *   kind: "concat",
   *   items: [{ kind: "repeat", item: aPlus, min: 1, max: Infinity }, b],
   * }); // (a+)+b
   * assert.equal(re.test("a".repeat(10_000)), false);
   * assert.equal(re.test("a".repeat(10_000) + "b"), true);
   * ```
   */
  test(subject: string): boolean {
    const n = subject.length;
    const reads = this.#reads;
    const innerFree = (reads & INNER_BITS) === 0;
    let state = this.#start(this.#context(subject, 0, -1));
    let table = this.#table;
    let done = this.#done;
    for (let i = 0; i < n;) {
      if (done[state] !== 0) return done[state] === 1;
      let cp = subject.charCodeAt(i++);
      if (cp >= 0xd800 && cp < 0xdc00 && i < n) {
        const low = subject.charCodeAt(i);
        if (low >= 0xdc00 && low < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i++;
        }
      }
      // Away from the ends, only newlines and word characters give a position a context.
      const ctx = reads === 0 || (innerFree && i < n - 2) ? 0 : this.#context(subject, i, cp);
      if (ctx === 0 && cp < 128) {
        const next = table[(state << 7) | cp];
        if (next !== 0) {
          state = next - 1;
          continue;
        }
      } else {
        const next = this.#states[state].other.get(cp * 128 + ctx);
        if (next !== undefined) {
          state = next;
          continue;
        }
      }
      const s = this.#states[state];
      const next = this.#step(s, cp, ctx);
      table = this.#table;
      done = this.#done;
      // #step may have dropped the cache; the transition is stored only if `s` survived.
      if (this.#states[state] === s) {
        if (ctx === 0 && cp < 128) table[(state << 7) | cp] = next + 1;
        else s.other.set(cp * 128 + ctx, next);
      }
      state = next;
    }
    return done[state] === 1;
  }

  /** Context bits at UTF-16 index `i`, after code point `prev` (-1 at the start). */
  #context(subject: string, i: number, prev: number): number {
    const reads = this.#reads;
    if (reads === 0) return 0;
    let ctx = 0;
    if (i === 0) ctx |= AT_START;
    if (prev === 10) ctx |= PREV_NEWLINE;
    if ((reads & PREV_WORD) !== 0 && prev >= 0 && this.#word!.has(prev)) ctx |= PREV_WORD;
    if (i >= subject.length) return (ctx | AT_END) & reads;
    const next = subject.codePointAt(i)!;
    if (next === 10) ctx |= NEXT_NEWLINE;
    if (i + (next > 0xffff ? 2 : 1) >= subject.length) ctx |= NEXT_IS_LAST;
    if ((reads & NEXT_WORD) !== 0 && this.#word!.has(next)) ctx |= NEXT_WORD;
    return ctx & reads;
  }

  #start(ctx: number): number {
    let id = this.#starts.get(ctx);
    if (id === undefined) {
      const gen = this.#nextGen();
      const count = this.#closure(0, 0, gen, ctx);
      id = this.#intern(count);
      this.#starts.set(ctx, id);
    }
    return id;
  }

  /** The state reached from `s` by reading `cp` into a position with context `ctx`. */
  #step(s: DfaState, cp: number, ctx: number): number {
    const gen = this.#nextGen();
    let count = 0;
    for (const pc of s.pcs) {
      if (!this.#sets[pc]!.has(cp)) continue;
      count = this.#closure(pc + 1, count, gen, ctx);
      if (count < 0) break;
    }
    return this.#intern(count);
  }

  /** The DFA state for the first `count` entries of the list (-1: the match state reached). */
  #intern(count: number): number {
    const pcs = count < 0 ? new Int32Array(0) : this.#list.slice(0, count).sort();
    const key = count < 0 ? "match" : pcs.join(",");
    let id = this.#ids.get(key);
    if (id !== undefined) return id;
    if (this.#states.length >= MAX_DFA_STATES) {
      this.#states = [];
      this.#ids = new Map();
      this.#starts = new Map();
      this.#table.fill(0);
    }
    id = this.#states.length;
    if (id === this.#done.length) {
      const table = new Int32Array(this.#table.length * 2);
      table.set(this.#table);
      this.#table = table;
      const done = new Uint8Array(this.#done.length * 2);
      done.set(this.#done);
      this.#done = done;
    }
    this.#done[id] = count < 0 ? 1 : count === 0 ? 2 : 0;
    this.#states.push({ pcs, matched: count < 0, other: new Map() });
    this.#ids.set(key, id);
    return id;
  }

  #nextGen(): number {
    if (this.#gen === 0xffffffff) {
      this.#mark.fill(0);
      this.#gen = 0;
    }
    return ++this.#gen;
  }

  /**
   * Adds `pc` and every state reachable from it without reading, in context `ctx`, to the list
   * from index `count`; returns the new count, or -1 when the match state is reached.
   */
  #closure(pc: number, count: number, gen: number, ctx: number): number {
    const mark = this.#mark;
    const stack = this.#stack;
    const list = this.#list;
    if (mark[pc] === gen) return count;
    mark[pc] = gen;
    let top = 0;
    stack[top++] = pc;
    while (top > 0) {
      const s = stack[--top];
      let follow = -1;
      let other = -1;
      switch (this.#op[s]) {
        case MATCH:
          return -1;
        case CHAR:
          list[count++] = s;
          break;
        case JMP:
          follow = this.#x[s];
          break;
        case SPLIT:
          follow = this.#x[s];
          other = this.#y[s];
          break;
        case ASSERT:
          if (holds(this.#assertions[s]!, ctx)) follow = s + 1;
          break;
      }
      if (follow >= 0 && mark[follow] !== gen) {
        mark[follow] = gen;
        stack[top++] = follow;
      }
      if (other >= 0 && mark[other] !== gen) {
        mark[other] = gen;
        stack[top++] = other;
      }
    }
    return count;
  }
}
