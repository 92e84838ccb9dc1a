/**
 * Python `re` patterns in JavaScript, with `re.match` semantics (anchored at the start only).
 *
 * The pattern is translated token by token and compiled with the `u` flag. `u` is used because,
 * after translation, it does not change the meaning but restores Python's: Python matches `str`
 * patterns code point by code point, and so does a `u` regex (`.` and negated classes consume a
 * whole astral character; without `u` they would consume half a surrogate pair). The syntax `u`
 * makes stricter (lone `{`, `}`, `]`, identity escapes such as `\:`) is normalised by the
 * translation, so every pattern Python accepts and we support compiles. Python-only meanings are
 * rewritten explicitly, never left to JavaScript's different defaults:
 * `(?P<n>…)` → `(?<n>…)`, `(?P=n)` → `\k<n>`, `\A` / `\Z` → look-arounds, `^` / `$` → Python's
 * (`$` also matches before a final `\n`), `.` → `[^\n]` (JavaScript's `.` also stops at `\r`,
 * U+2028, U+2029), `\d` → `\p{Nd}`, `\w` → `[\p{L}\p{N}_]`, `\s` → Python's whitespace set,
 * `\b` / `\B` built on that `\w`, `{,n}` → `{0,n}`, `(?#…)` dropped, leading global flags `(?i)`,
 * `(?s)`, `(?m)`, `(?a)`, `(?u)` honoured. Unsupported (reported as an issue): verbose `(?x)`,
 * `(?L)`, scoped flags `(?i:…)`, atomic groups, possessive quantifiers, conditionals, `\N{…}`,
 * and `\D`/`\W`/`\S` inside a character class.
 *
 * @module
 */

/** A compiled Python pattern, or why it could not be compiled. */
export type PythonRegexResult =
  | { readonly ok: true; readonly regex: RegExp }
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
}

class RegexProblem extends Error {
  constructor(readonly code: "invalid_regex" | "unsupported_regex", message: string) {
    super(message);
  }
}

const UNI_WORD = "\\p{L}\\p{N}_";
const ASCII_WORD = "A-Za-z0-9_";
const UNI_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ASCII_SPACE = " \\t\\n\\r\\f\\v";
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** Compiles a Python pattern for prefix matching (`re.match`). */
export function compilePythonRegex(pattern: string): PythonRegexResult {
  try {
    const { source, flags } = translate(pattern);
    return { ok: true, regex: new RegExp(`^(?:${source})`, flags.i ? "iu" : "u") };
  } catch (error) {
    if (error instanceof RegexProblem) {
      return { ok: false, code: error.code, message: error.message };
    }
    return { ok: false, code: "invalid_regex", message: (error as Error).message };
  }
}

/** Translates a Python pattern into a JavaScript `u`-mode source (exported for tests). */
export function translate(pattern: string): { source: string; flags: Flags } {
  const flags: Flags = { i: false, s: false, m: false, a: false };
  let pos = 0;
  for (
    let m = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
    m !== null;
    m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(pos))
  ) {
    for (const f of m[1]) {
      if (f === "i" || f === "s" || f === "m" || f === "a") flags[f] = true;
      else if (f === "u") continue;
      else if (f === "x") {
        throw new RegexProblem("unsupported_regex", "verbose patterns (?x) are not supported");
      } else if (f === "L") {
        throw new RegexProblem("unsupported_regex", "the locale flag (?L) is not supported");
      } else throw new RegexProblem("invalid_regex", `unknown flag "${f}"`);
    }
    pos += m[0].length;
  }
  const t = new Translator(pattern, pos, flags);
  return { source: t.run(), flags };
}

function lit(code: number): string {
  if (code < 0x80 && /[A-Za-z0-9_ ]/.test(String.fromCharCode(code))) {
    return String.fromCharCode(code);
  }
  return `\\u{${code.toString(16)}}`;
}

class Translator {
  private out = "";
  private depth = 0;
  constructor(private readonly p: string, private pos: number, private readonly flags: Flags) {}

  run(): string {
    while (this.pos < this.p.length) this.step();
    if (this.depth !== 0) {
      throw new RegexProblem("invalid_regex", "missing ), unterminated subpattern");
    }
    return this.out;
  }

  private word(): string {
    return this.flags.a ? ASCII_WORD : UNI_WORD;
  }

  private step(): void {
    const c = this.p[this.pos];
    if (c === "\\") return this.escape();
    if (c === "[") return this.charClass();
    if (c === "(") return this.group();
    this.pos++;
    if (c === ")") {
      if (this.depth === 0) throw new RegexProblem("invalid_regex", "unbalanced parenthesis");
      this.depth--;
      this.out += ")";
    } else if (c === ".") this.out += this.flags.s ? "[\\s\\S]" : "[^\\n]";
    else if (c === "^") this.out += this.flags.m ? "(?<![^\\n])" : "(?<![\\s\\S])";
    else if (c === "$") this.out += this.flags.m ? "(?=\\n|(?![\\s\\S]))" : "(?=\\n?(?![\\s\\S]))";
    else if (c === "*" || c === "+" || c === "?") this.quantifier(c);
    else if (c === "{") this.brace();
    else if (c === "|") this.out += "|";
    else this.out += lit(this.p.codePointAt(this.pos - 1)!) + this.surrogateSkip();
  }

  private surrogateSkip(): string {
    const cp = this.p.codePointAt(this.pos - 1)!;
    if (cp > 0xffff) this.pos++;
    return "";
  }

  private quantifier(q: string): void {
    this.out += q;
    this.suffix();
  }

  private suffix(): void {
    const next = this.p[this.pos];
    if (next === "?") {
      this.out += "?";
      this.pos++;
    } else if (next === "+") {
      throw new RegexProblem("unsupported_regex", "possessive quantifiers are not supported");
    }
  }

  private brace(): void {
    const m = /^(\d*)(?:(,)(\d*))?\}/.exec(this.p.slice(this.pos));
    if (m === null || (m[1] === "" && m[2] === undefined)) {
      this.out += "\\{";
      return;
    }
    this.pos += m[0].length;
    const lo = m[1] === "" ? "0" : m[1];
    this.out += m[2] === undefined ? `{${lo}}` : `{${lo},${m[3]}}`;
    this.suffix();
  }

  private group(): void {
    const rest = this.p.slice(this.pos);
    this.depth++;
    let m: RegExpExecArray | null;
    if ((m = /^\(\?P<([^>]*)>/.exec(rest)) !== null) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1])) {
        throw new RegexProblem("invalid_regex", `bad character in group name "${m[1]}"`);
      }
      this.out += `(?<${m[1]}>`;
      this.pos += m[0].length;
    } else if ((m = /^\(\?P=([^)]*)\)/.exec(rest)) !== null) {
      this.depth--;
      this.out += `\\k<${m[1]}>`;
      this.pos += m[0].length;
    } else if ((m = /^\(\?#[^)]*\)/.exec(rest)) !== null) {
      this.depth--;
      this.pos += m[0].length;
    } else if ((m = /^\(\?(:|=|!|<=|<!)/.exec(rest)) !== null) {
      this.out += m[0];
      this.pos += m[0].length;
    } else if (rest.startsWith("(?>")) {
      throw new RegexProblem("unsupported_regex", "atomic groups (?>...) are not supported");
    } else if (rest.startsWith("(?(")) {
      throw new RegexProblem(
        "unsupported_regex",
        "conditional groups (?(...)...) are not supported",
      );
    } else if (/^\(\?[-a-zA-Z]*:/.test(rest)) {
      throw new RegexProblem(
        "unsupported_regex",
        "scoped inline flags (?flags:...) are not supported",
      );
    } else if (/^\(\?[a-zA-Z]+\)/.test(rest)) {
      throw new RegexProblem("invalid_regex", "global flags not at the start of the expression");
    } else if (rest.startsWith("(?")) {
      throw new RegexProblem("invalid_regex", `unknown extension ${rest.slice(0, 3)}`);
    } else {
      this.out += "(";
      this.pos++;
    }
  }

  private escape(): void {
    const e = this.p[this.pos + 1];
    if (e === undefined) throw new RegexProblem("invalid_regex", "bad escape (end of pattern)");
    this.pos += 2;
    const w = this.word();
    const sp = this.flags.a ? ASCII_SPACE : UNI_SPACE;
    switch (e) {
      case "A":
        this.out += "(?<![\\s\\S])";
        return;
      case "Z":
        this.out += "(?![\\s\\S])";
        return;
      case "b":
        this.out += `(?:(?<=[${w}])(?![${w}])|(?<![${w}])(?=[${w}]))`;
        return;
      case "B":
        this.out += `(?:(?<=[${w}])(?=[${w}])|(?<![${w}])(?![${w}]))`;
        return;
      case "d":
      case "D":
      case "w":
      case "W":
      case "s":
      case "S": {
        const body = e.toLowerCase() === "d"
          ? (this.flags.a ? "0-9" : "\\p{Nd}")
          : e.toLowerCase() === "w"
          ? w
          : sp;
        this.out += e === e.toLowerCase() ? `[${body}]` : `[^${body}]`;
        return;
      }
    }
    this.out += this.escapedChar(e, false);
  }

  /** An escape that stands for one character (or a back-reference outside classes). */
  private escapedChar(e: string, inClass: boolean): string {
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) return lit(SIMPLE_ESCAPES[e]);
    if (e === "x") return lit(this.hex(2));
    if (e === "u") return lit(this.hex(4));
    if (e === "U") {
      const cp = this.hex(8);
      if (cp > 0x10ffff) throw new RegexProblem("invalid_regex", "bad escape \\U");
      return lit(cp);
    }
    if (e === "N") {
      throw new RegexProblem(
        "unsupported_regex",
        "named Unicode escapes \\N{...} are not supported",
      );
    }
    if (/[0-7]/.test(e)) {
      const m = /^[0-7]{0,2}/.exec(this.p.slice(this.pos))![0];
      if (e === "0" || m.length === 2 || inClass) {
        const digits = (e + m).slice(0, e === "0" ? 3 : 3);
        this.pos += digits.length - 1;
        const cp = parseInt(digits, 8);
        if (cp > 0o377) {
          throw new RegexProblem(
            "invalid_regex",
            `octal escape value \\${digits} outside of range 0-0o377`,
          );
        }
        return lit(cp);
      }
    }
    if (/[1-9]/.test(e)) {
      if (inClass) throw new RegexProblem("invalid_regex", `bad escape \\${e}`);
      const m = /^[0-9]?/.exec(this.p.slice(this.pos))![0];
      this.pos += m.length;
      return `(?:\\${e}${m})`;
    }
    if (/[A-Za-z0-9]/.test(e)) throw new RegexProblem("invalid_regex", `bad escape \\${e}`);
    const cp = this.p.codePointAt(this.pos - 1)!;
    if (cp > 0xffff) this.pos++;
    return lit(cp);
  }

  private hex(n: number): number {
    const digits = this.p.slice(this.pos, this.pos + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) {
      throw new RegexProblem(
        "invalid_regex",
        `incomplete escape \\${this.p[this.pos - 1]}${digits}`,
      );
    }
    this.pos += n;
    return parseInt(digits, 16);
  }

  private charClass(): void {
    this.pos++;
    let body = "";
    let negate = false;
    if (this.p[this.pos] === "^") {
      negate = true;
      this.pos++;
    }
    let first = true;
    for (;;) {
      const c = this.p[this.pos];
      if (c === undefined) throw new RegexProblem("invalid_regex", "unterminated character set");
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === "\\") {
        const e = this.p[this.pos + 1];
        if (e === undefined) throw new RegexProblem("invalid_regex", "bad escape (end of pattern)");
        this.pos += 2;
        if (e === "d") body += this.flags.a ? "0-9" : "\\p{Nd}";
        else if (e === "w") body += this.word();
        else if (e === "s") body += this.flags.a ? ASCII_SPACE : UNI_SPACE;
        else if (e === "D" && !this.flags.a) body += "\\P{Nd}";
        else if (e === "D" || e === "W" || e === "S") {
          throw new RegexProblem(
            "unsupported_regex",
            `\\${e} inside a character class is not supported`,
          );
        } else if (e === "b") body += lit(8);
        else body += this.escapedChar(e, true);
        continue;
      }
      this.pos++;
      if (c === "-") body += "-";
      else {
        const cp = this.p.codePointAt(this.pos - 1)!;
        if (cp > 0xffff) this.pos++;
        body += lit(cp);
      }
    }
    this.out += `[${negate ? "^" : ""}${body}]`;
  }
}
