/**
 * Python `re` patterns with `re.match` semantics (anchored at the start only), matched in time
 * linear in the subject.
 *
 * The pattern is parsed the way CPython 3.11's `re._parser` reads it — code point by code point,
 * with its error messages — into the node tree of `_linear_regex.ts`, which runs it as a Thompson
 * NFA: no backtracking, so `(.*.*)*X` or `(a+)+b` on a 10,000-character name is as quick as `X`.
 * Python's meanings are kept explicitly rather than left to JavaScript's defaults: `^` / `\A` is
 * the start, `$` the end or before a final `\n` (with `(?m)`: before any `\n`), `\Z` the end,
 * `.` anything but `\n` (anything with `(?s)`), `\d` = `\p{Nd}`, `\w` = `[\p{L}\p{N}_]`, `\s` =
 * Python's whitespace set (ASCII forms with `(?a)`), `\b` / `\B` built on that `\w` (never true in
 * an empty subject, as in CPython 3.11), `{,n}` = `{0,n}`, a `{` that starts no repeat is a
 * literal, `(?#…)` is dropped, leading global flags `(?i)`, `(?s)`, `(?m)`, `(?a)`, `(?u)` are
 * honoured (`(?i)` folds case like a JavaScript `iu` regex, `(?ai)` folds ASCII letters only).
 * One-character tests (literals, classes, `.`) are JavaScript `u`-mode regular expressions that
 * match exactly one code point, so astral characters are single characters as in Python.
 *
 * Unsupported (reported as `unsupported_regex`): what a linear-time automaton cannot run —
 * backreferences `\1` / `(?P=name)`, lookahead `(?=…)` / `(?!…)`, lookbehind `(?<=…)` / `(?<!…)`,
 * atomic groups, possessive quantifiers, conditionals — and verbose `(?x)`, scoped flags
 * `(?i:…)`, `\N{…}`, groups nested more than {@linkcode MAX_NESTING} deep, and counted
 * repetitions that expand past `MAX_PROGRAM` states. Patterns CPython rejects are `invalid_regex`
 * with CPython's message (without its position).
 *
 * @module
 */

import { CharSet, LinearRegex, MAX_PROGRAM, programSize, type RegexNode } from "./_linear_regex.ts";

/** Deepest group nesting accepted (CPython itself fails with a RecursionError near 500). */
const MAX_NESTING = 400;

/** A compiled Python pattern, or why it could not be compiled. */
export type PythonRegexResult =
  | { readonly ok: true; readonly regex: LinearRegex }
  | {
    readonly ok: false;
    readonly code: "invalid_regex" | "unsupported_regex";
    readonly message: string;
  };

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
  a: boolean;
  u: boolean;
}

class RegexProblem extends Error {
  constructor(readonly code: "invalid_regex" | "unsupported_regex", message: string) {
    super(message);
  }
}

const invalid = (message: string) => new RegexProblem("invalid_regex", message);
const unsupported = (message: string) => new RegexProblem("unsupported_regex", message);

/** CPython's MAXREPEAT: repeat counts from here on are an OverflowError. */
const MAXREPEAT = 4294967295;

const UNI_WORD = "\\p{L}\\p{N}_";
const ASCII_WORD = "A-Za-z0-9_";
const UNI_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ASCII_SPACE = " \\t\\n\\r\\f\\v";
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 7,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
};
const IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

/**
 * Compiles a Python pattern for prefix matching (`re.match`); never throws.
 *
 * @param pattern The Python pattern, as written in `op_names_re`.
 * @returns The compiled pattern, or the issue code and message.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compilePythonRegex } from "./_python_regex.ts";
 * const r = compilePythonRegex("(a+)+b");
 * assert.equal(r.ok && r.regex.test("a".repeat(10_000)), false);
 * assert.deepEqual(compilePythonRegex("(a)\\1"), {
 *   ok: false,
 *   code: "unsupported_regex",
 *   message: "backreference \\1 is not supported by the linear-time matcher",
 * });
 * ```
 */
export function compilePythonRegex(pattern: string): PythonRegexResult {
  try {
    const node = new Parser(pattern).parse();
    if (programSize(node, MAX_PROGRAM) === Infinity) {
      throw unsupported(
        `its repetitions expand to more than ${MAX_PROGRAM} matcher states`,
      );
    }
    return { ok: true, regex: new LinearRegex(node) };
  } catch (error) {
    if (error instanceof RegexProblem) {
      return { ok: false, code: error.code, message: error.message };
    }
    // A one-character class JavaScript rejects; the parser checks what CPython checks first.
    return { ok: false, code: "invalid_regex", message: (error as Error).message };
  }
}

/** JavaScript class-body source for one code point. */
function lit(code: number): string {
  if (code < 0x80 && /[A-Za-z0-9_ ]/.test(String.fromCharCode(code))) {
    return String.fromCharCode(code);
  }
  return `\\u{${code.toString(16)}}`;
}

/** `re` (sticky) run on `text` at `pos`, without copying the rest of the text. */
function sticky(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

function seq(items: RegexNode[]): RegexNode {
  return items.length === 1 ? items[0] : { kind: "concat", items };
}

interface Frame {
  readonly alternatives: RegexNode[];
  items: RegexNode[];
  /** What the last item is, for "nothing to repeat" and "multiple repeat". */
  last: "none" | "item" | "assert" | "repeat";
  /** Capture group number this frame closes, if any. */
  readonly group: number | undefined;
  /** A construct parsed only for its errors (a look-around): its node is never run. */
  readonly discard: boolean;
}

/** One item of a character class: a code point with its source text, or a category. */
type ClassItem =
  | { readonly kind: "cp"; readonly cp: number; readonly text: string }
  | {
    readonly kind: "category";
    readonly body?: string;
    readonly complement?: string;
    readonly text: string;
  };

class Parser {
  private pos = 0;
  private readonly flags: Flags = { i: false, s: false, m: false, a: false, u: false };
  private groups = 1;
  private readonly names = new Map<string, number>();
  private readonly closed = new Set<number>();
  private readonly stack: Frame[] = [{
    alternatives: [],
    items: [],
    last: "none",
    group: undefined,
    discard: false,
  }];
  private readonly sets = new Map<string, CharSet>();

  /**
   * The first construct met that the matcher cannot run. It is reported only once the whole
   * pattern has parsed, so that a pattern CPython rejects is `invalid_regex` whatever it uses.
   */
  private unsupported: string | undefined;

  constructor(private readonly p: string) {}

  parse(): RegexNode {
    while (this.pos < this.p.length) this.step();
    if (this.stack.length > 1) throw invalid("missing ), unterminated subpattern");
    if (this.unsupported !== undefined) throw unsupported(this.unsupported);
    return this.close(this.stack[0]);
  }

  private defer(reason: string): void {
    this.unsupported ??= reason;
  }

  private get frame(): Frame {
    return this.stack[this.stack.length - 1];
  }

  private close(frame: Frame): RegexNode {
    const alternatives = [...frame.alternatives, seq(frame.items)];
    return alternatives.length === 1 ? alternatives[0] : { kind: "alternate", items: alternatives };
  }

  private add(node: RegexNode, last: "item" | "assert" = "item"): void {
    this.frame.items.push(node);
    this.frame.last = last;
  }

  private fold(): "unicode" | "ascii" | "none" {
    return !this.flags.i ? "none" : this.flags.a ? "ascii" : "unicode";
  }

  private set(body: string, negate = false, union: readonly CharSet[] = []): CharSet {
    const fold = this.fold();
    if (union.length > 0) return new CharSet(body, fold, { negate, union });
    const key = `${fold}${negate ? "^" : ""}${body}`;
    let set = this.sets.get(key);
    if (set === undefined) {
      set = new CharSet(body, fold, { negate });
      this.sets.set(key, set);
    }
    return set;
  }

  private char(body: string, negate = false): void {
    this.add({ kind: "char", set: this.set(body, negate) });
  }

  private word(): string {
    return this.flags.a ? ASCII_WORD : UNI_WORD;
  }

  private space(): string {
    return this.flags.a ? ASCII_SPACE : UNI_SPACE;
  }

  private digit(): string {
    return this.flags.a ? "0-9" : "\\p{Nd}";
  }

  /** The code point at `pos` and its length in UTF-16 units. */
  private cpAt(pos: number): [number, number] {
    const cp = this.p.codePointAt(pos)!;
    return [cp, cp > 0xffff ? 2 : 1];
  }

  private step(): void {
    const c = this.p[this.pos];
    if (c === "\\") return this.escape();
    if (c === "[") return this.charClass();
    if (c === "(") return this.group();
    if (c === "{") return this.brace();
    this.pos++;
    if (c === ")") {
      if (this.stack.length === 1) throw invalid("unbalanced parenthesis");
      const frame = this.stack.pop()!;
      if (frame.group !== undefined) this.closed.add(frame.group);
      this.add(frame.discard ? { kind: "empty" } : this.close(frame));
    } else if (c === "|") {
      this.frame.alternatives.push(seq(this.frame.items));
      this.frame.items = [];
      this.frame.last = "none";
    } else if (c === "*") this.repeat(0, Infinity);
    else if (c === "+") this.repeat(1, Infinity);
    else if (c === "?") this.repeat(0, 1);
    else if (c === ".") this.char(this.flags.s ? "" : "\\n", true);
    else if (c === "^") {
      this.add({ kind: "assert", assertion: this.flags.m ? "line_start" : "text_start" }, "assert");
    } else if (c === "$") {
      this.add({ kind: "assert", assertion: this.flags.m ? "line_end" : "end" }, "assert");
    } else {
      const [cp, n] = this.cpAt(this.pos - 1);
      this.pos += n - 1;
      this.char(lit(cp));
    }
  }

  private repeat(min: number, max: number): void {
    const frame = this.frame;
    if (frame.last === "none" || frame.last === "assert") throw invalid("nothing to repeat");
    if (frame.last === "repeat") throw invalid("multiple repeat");
    if (this.p[this.pos] === "?") this.pos++;
    else if (this.p[this.pos] === "+") {
      this.pos++;
      this.defer("possessive quantifiers are not supported");
    }
    const item = frame.items.pop()!;
    frame.items.push({ kind: "repeat", item, min, max });
    frame.last = "repeat";
  }

  private brace(): void {
    const m = sticky(/\{(\d*)(,(\d*))?\}/y, this.p, this.pos);
    // CPython: "{}" and "{" that starts no "{m}", "{m,}", "{,n}", "{m,n}" are literals.
    if (m === null || (m[1] === "" && m[2] === undefined)) {
      this.pos++;
      this.char(lit(0x7b));
      return;
    }
    this.pos += m[0].length;
    const min = m[1] === "" ? 0 : Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
    if (min >= MAXREPEAT || (max !== Infinity && max >= MAXREPEAT)) {
      throw invalid("the repetition number is too large");
    }
    if (max < min) throw invalid("min repeat greater than max repeat");
    this.repeat(min, max);
  }

  private open(group: number | undefined, discard = false): void {
    if (this.stack.length > MAX_NESTING) {
      throw unsupported(`groups nested more than ${MAX_NESTING} deep are not supported`);
    }
    this.stack.push({ alternatives: [], items: [], last: "none", group, discard });
  }

  /** Reads a group name up to `terminator` (CPython's `getuntil` and `checkgroupname`). */
  private name(terminator: string): string {
    const end = this.p.indexOf(terminator, this.pos);
    if (end < 0) {
      if (this.pos === this.p.length) throw invalid("missing group name");
      throw invalid(`missing ${terminator}, unterminated name`);
    }
    const name = this.p.slice(this.pos, end);
    if (name === "") throw invalid("missing group name");
    if (!IDENTIFIER.test(name)) throw invalid(`bad character in group name '${name}'`);
    this.pos = end + 1;
    return name;
  }

  /** A backreference is valid Python but cannot run here; CPython's own checks come first. */
  private backreference(group: number, text: string): void {
    if (!this.closed.has(group) && group < this.groups) {
      throw invalid("cannot refer to an open group");
    }
    this.defer(`backreference ${text} is not supported by the linear-time matcher`);
    this.add({ kind: "empty" });
  }

  private group(): void {
    const start = this.pos;
    this.pos++;
    if (this.p[this.pos] !== "?") {
      this.open(this.groups++);
      return;
    }
    this.pos++;
    const c = this.p[this.pos++];
    if (c === undefined) throw invalid("unexpected end of pattern");
    if (c === "P") {
      const d = this.p[this.pos++];
      if (d === "<") {
        const name = this.name(">");
        const known = this.names.get(name);
        if (known !== undefined) {
          throw invalid(
            `redefinition of group name '${name}' as group ${this.groups}; was group ${known}`,
          );
        }
        this.names.set(name, this.groups);
        this.open(this.groups++);
      } else if (d === "=") {
        const name = this.name(")");
        const group = this.names.get(name);
        if (group === undefined) throw invalid(`unknown group name '${name}'`);
        this.backreference(group, `(?P=${name})`);
      } else if (d === undefined) throw invalid("unexpected end of pattern");
      else throw invalid(`unknown extension ?P${this.p.slice(this.pos - 1, this.pos)}`);
    } else if (c === ":") this.open(undefined);
    else if (c === "#") {
      const end = this.p.indexOf(")", this.pos);
      if (end < 0) throw invalid("missing ), unterminated comment");
      this.pos = end + 1;
    } else if (c === "=" || c === "!") {
      this.defer(`lookahead (?${c}...) is not supported by the linear-time matcher`);
      this.open(undefined, true);
    } else if (c === "<") {
      const d = this.p[this.pos++];
      if (d === undefined) throw invalid("unexpected end of pattern");
      if (d !== "=" && d !== "!") throw invalid(`unknown extension ?<${this.token(this.pos - 1)}`);
      this.defer(`lookbehind (?<${d}...) is not supported by the linear-time matcher`);
      this.open(undefined, true);
    } else if (c === ">") {
      this.defer("atomic groups (?>...) are not supported");
      this.open(undefined);
    } else if (c === "(") {
      throw unsupported("conditional groups (?(...)...) are not supported");
    } else if (/[aiLmsuxt-]/.test(c)) this.inlineFlags(start);
    else throw invalid(`unknown extension ?${this.token(this.pos - 1)}`);
  }

  /** CPython's token at `pos` for messages: a code point, or a backslash and what follows. */
  private token(pos: number): string {
    if (this.p[pos] === "\\") return this.p.slice(pos, pos + 2);
    return String.fromCodePoint(this.cpAt(pos)[0]);
  }

  /** `(?flags)` at the very start, or scoped `(?flags-flags:...)` (CPython's `_parse_flags`). */
  private inlineFlags(start: number): void {
    const FLAGS = "iLmsxatu";
    const TYPE = "aLu";
    let i = start + 2;
    const get = (): string | undefined => {
      if (i >= this.p.length) return undefined;
      const t = this.token(i);
      i += t.length;
      return t;
    };
    const alpha = (c: string) => /^\p{L}$/u.test(c);
    const added = new Set<string>();
    const removed = new Set<string>();
    let c = get()!;
    if (c !== "-") {
      for (;;) {
        if (c === "L") throw invalid("bad inline flags: cannot use 'L' flag with a str pattern");
        added.add(c);
        if (TYPE.includes(c) && [...TYPE].filter((f) => added.has(f)).length > 1) {
          throw invalid("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
        }
        const next = get();
        if (next === undefined) throw invalid("missing -, : or )");
        c = next;
        if (")-:".includes(c)) break;
        if (!FLAGS.includes(c)) throw invalid(alpha(c) ? "unknown flag" : "missing -, : or )");
      }
    }
    this.pos = i;
    if (c === ")") return this.globalFlags(added);
    if (added.has("t")) throw invalid("bad inline flags: cannot turn on global flag");
    if (c === "-") {
      let next = get();
      if (next === undefined) throw invalid("missing flag");
      if (!FLAGS.includes(next)) throw invalid(alpha(next) ? "unknown flag" : "missing flag");
      for (;;) {
        if (TYPE.includes(next)) {
          throw invalid("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        }
        removed.add(next);
        next = get();
        if (next === undefined) throw invalid("missing :");
        if (next === ":") break;
        if (!FLAGS.includes(next)) throw invalid(alpha(next) ? "unknown flag" : "missing :");
      }
      this.pos = i;
      if (removed.has("t")) throw invalid("bad inline flags: cannot turn off global flag");
      if ([...added].some((f) => removed.has(f))) {
        throw invalid("bad inline flags: flag turned on and off");
      }
    }
    if (added.has("x") && !removed.has("x")) {
      throw unsupported("verbose patterns (?x) are not supported");
    }
    this.defer("scoped inline flags (?flags:...) are not supported");
    this.open(undefined);
  }

  private globalFlags(added: Set<string>): void {
    const frame = this.frame;
    if (this.stack.length > 1 || frame.alternatives.length > 0 || frame.items.length > 0) {
      throw invalid("global flags not at the start of the expression");
    }
    // Verbose mode changes how the rest is read, so nothing after it can be trusted.
    if (added.has("x")) throw unsupported("verbose patterns (?x) are not supported");
    if (added.has("t")) this.defer("the template flag (?t) is not supported");
    for (const f of ["i", "s", "m", "a", "u"] as const) if (added.has(f)) this.flags[f] = true;
    if (this.flags.a && this.flags.u) {
      throw invalid("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
    }
  }

  private escape(): void {
    const e = this.p[this.pos + 1];
    if (e === undefined) throw invalid("bad escape (end of pattern)");
    this.pos += 2;
    switch (e) {
      case "A":
        return this.add({ kind: "assert", assertion: "text_start" }, "assert");
      case "Z":
        return this.add({ kind: "assert", assertion: "text_end" }, "assert");
      case "b":
      case "B":
        return this.add({
          kind: "assert",
          assertion: e === "b" ? "word_boundary" : "not_word_boundary",
          word: new CharSet(this.word(), "none"),
        }, "assert");
      case "d":
      case "D":
        return this.char(this.digit(), e === "D");
      case "w":
      case "W":
        return this.char(this.word(), e === "W");
      case "s":
      case "S":
        return this.char(this.space(), e === "S");
    }
    this.char(lit(this.escapedChar(e, false)));
  }

  /** The code point an escape stands for (CPython's `_escape` / `_class_escape`). */
  private escapedChar(e: string, inClass: boolean): number {
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) return SIMPLE_ESCAPES[e];
    if (e === "x") return this.hex(2, "\\x");
    if (e === "u") return this.hex(4, "\\u");
    if (e === "U") {
      const cp = this.hex(8, "\\U");
      if (cp > 0x10ffff) throw invalid(`bad escape ${this.p.slice(this.pos - 10, this.pos)}`);
      return cp;
    }
    if (e === "N") {
      if (this.p[this.pos] !== "{") throw invalid("missing {");
      const end = this.p.indexOf("}", this.pos + 1);
      if (end === this.pos + 1) throw invalid("missing character name");
      if (end < 0) {
        if (this.pos + 1 === this.p.length) throw invalid("missing character name");
        throw invalid("missing }, unterminated name");
      }
      this.pos = end + 1;
      this.defer("named Unicode escapes \\N{...} are not supported");
      return 0;
    }
    if (/[0-7]/.test(e) && (inClass || e === "0")) {
      const digits = e + sticky(/[0-7]{0,2}/y, this.p, this.pos)![0];
      this.pos += digits.length - 1;
      return this.octal(digits);
    }
    if (/[0-9]/.test(e)) {
      if (inClass) throw invalid(`bad escape \\${e}`);
      let digits = e;
      if (/[0-9]/.test(this.p[this.pos] ?? "")) {
        digits += this.p[this.pos++];
        if (/^[0-7]{2}$/.test(digits) && /[0-7]/.test(this.p[this.pos] ?? "")) {
          digits += this.p[this.pos++];
          return this.octal(digits);
        }
      }
      const group = Number(digits);
      if (group >= this.groups) throw invalid(`invalid group reference ${group}`);
      this.backreference(group, `\\${digits}`);
    }
    if (/[A-Za-z]/.test(e)) throw invalid(`bad escape \\${e}`);
    const [cp, n] = this.cpAt(this.pos - 1);
    this.pos += n - 1;
    return cp;
  }

  private octal(digits: string): number {
    const cp = parseInt(digits, 8);
    if (cp > 0o377) throw invalid(`octal escape value \\${digits} outside of range 0-0o377`);
    return cp;
  }

  private hex(n: number, prefix: string): number {
    const digits = sticky(/[0-9a-fA-F]{0,8}/y, this.p, this.pos)![0].slice(0, n);
    if (digits.length !== n) throw invalid(`incomplete escape ${prefix}${digits}`);
    this.pos += n;
    return parseInt(digits, 16);
  }

  /** One class item at `pos` (after `[`, `[^` or a previous item). */
  private classItem(): ClassItem {
    const start = this.pos;
    const c = this.p[this.pos];
    if (c !== "\\") {
      const [cp, n] = this.cpAt(this.pos);
      this.pos += n;
      return { kind: "cp", cp, text: this.p.slice(start, this.pos) };
    }
    const e = this.p[this.pos + 1];
    if (e === undefined) throw invalid("bad escape (end of pattern)");
    this.pos += 2;
    const text = `\\${e}`;
    switch (e) {
      case "d":
        return { kind: "category", body: this.digit(), text };
      case "w":
        return { kind: "category", body: this.word(), text };
      case "s":
        return { kind: "category", body: this.space(), text };
      case "D":
        return { kind: "category", complement: this.digit(), text };
      case "W":
        return { kind: "category", complement: this.word(), text };
      case "S":
        return { kind: "category", complement: this.space(), text };
      case "b":
        return { kind: "cp", cp: 8, text };
    }
    const cp = this.escapedChar(e, true);
    return { kind: "cp", cp, text: this.p.slice(start, this.pos) };
  }

  private charClass(): void {
    this.pos++;
    let negate = false;
    if (this.p[this.pos] === "^") {
      negate = true;
      this.pos++;
    }
    let body = "";
    const union: CharSet[] = [];
    const addItem = (item: ClassItem) => {
      if (item.kind === "cp") body += lit(item.cp);
      else if (item.body !== undefined) body += item.body;
      else union.push(new CharSet(item.complement!, "none", { negate: true }));
    };
    for (let first = true;; first = false) {
      if (this.pos >= this.p.length) throw invalid("unterminated character set");
      if (this.p[this.pos] === "]" && !first) {
        this.pos++;
        break;
      }
      const item = this.classItem();
      if (this.p[this.pos] !== "-") {
        addItem(item);
        continue;
      }
      this.pos++;
      if (this.pos >= this.p.length) throw invalid("unterminated character set");
      if (this.p[this.pos] === "]") {
        this.pos++;
        addItem(item);
        body += lit(0x2d);
        break;
      }
      const end = this.classItem();
      if (item.kind !== "cp" || end.kind !== "cp" || end.cp < item.cp) {
        throw invalid(`bad character range ${item.text}-${end.text}`);
      }
      body += `${lit(item.cp)}-${lit(end.cp)}`;
    }
    this.add({ kind: "char", set: this.set(body, negate, union) });
  }
}
