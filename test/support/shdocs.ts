// The shell examples of the Markdown docs, as test/docs.test.ts runs them: every ```sh block, its
// commands, and what the docs say each answers.
//
// In a block, a line `# -> <what>` under a command (or at the end of its line) is what it answers:
//   curl ...   # -> 201 {"id":"1"}                      status and body
//   curl -i .. # -> 200 {"a":1} with X-presque-jobid: 1  ... and headers
//   curl ...   # -> 204                                 status, no body
//   npx presque pop q  # -> presque: no job in q (exit 1)
// A command other than curl: its stdout (or its stderr, when it printed nothing else), and its exit
// status when not 0.
// In a JSON body, `<anything>` stands for any one value (a time, a generated id) and `...` for
// more members of an object or more elements of an array. A body that is not JSON is text,
// compared whole, or as a prefix when it ends in `...`.
// `# not run by the docs test: <why>` as a block's first line skips the block; under a command, that
// command. Every other command must say what it answers.

export interface Expectation {
  /** an HTTP status (curl), or undefined for another command */
  status?: number;
  /** the body (curl) or stdout, as written; "" for none */
  body: string;
  headers: [string, string][];
  /** other commands: the exit status (default 0) */
  exit: number;
}

export interface Command {
  line: number;
  text: string;
  expect?: Expectation;
  skip?: string;
}

export interface Block {
  file: string;
  line: number;
  commands: Command[];
  skip?: string;
}

const SKIP = /^#\s*not run by the docs test:\s*(.*)$/;
const EXPECT = /(?:^|\s)#\s*->\s?(.*)$/;

export function shBlocks(file: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```sh") continue;
    const block: Block = { file, line: i + 1, commands: [] };
    let previous: Command | undefined;
    for (i++; i < lines.length && lines[i].trim() !== "```"; i++) {
      let text = lines[i].trim();
      const line = i + 1;
      while (text.endsWith("\\") && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i].trim()}`;
      if (!text) {
        previous = undefined;
        continue;
      }
      const skip = SKIP.exec(text);
      if (skip) {
        if (previous) previous.skip = skip[1];
        else if (!block.commands.length) block.skip = skip[1];
        else throw new Error(`${file}:${line}: "not run" belongs first in a block or under a command`);
        continue;
      }
      if (text.startsWith("#")) {
        const expect = /^#\s*->\s?(.*)$/.exec(text);
        if (expect) {
          if (!previous) throw new Error(`${file}:${line}: "# ->" with no command above it`);
          if (previous.expect) throw new Error(`${file}:${line}: a second "# ->" for one command`);
          previous.expect = expectation(expect[1], isCurl(previous.text), `${file}:${line}`);
        }
        continue;
      }
      const inline = EXPECT.exec(text);
      const command: Command = { line, text: inline ? text.slice(0, inline.index).trim() : text };
      if (inline) command.expect = expectation(inline[1], isCurl(command.text), `${file}:${line}`);
      block.commands.push(command);
      previous = command;
    }
    blocks.push(block);
  }
  return blocks;
}

export const isCurl = (command: string) => /^curl\s/.test(command);

function expectation(text: string, curl: boolean, where: string): Expectation {
  let rest = text.trim();
  const e: Expectation = { body: "", headers: [], exit: 0 };
  if (curl) {
    const status = /^(\d{3})(?:\s+|$)(.*)$/.exec(rest);
    if (!status) throw new Error(`${where}: a curl command's "# ->" starts with its status: ${text}`);
    e.status = Number(status[1]);
    rest = status[2];
    const withHeaders = /(?:^|\s)with\s+([A-Za-z0-9-]+:.*)$/.exec(rest);
    if (withHeaders) {
      rest = rest.slice(0, withHeaders.index);
      e.headers = withHeaders[1].split(/,\s+(?=[A-Za-z0-9-]+:)/).map((h) => {
        const colon = h.indexOf(":");
        return [h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim()];
      });
    }
  } else {
    const exit = /\s*\(exit (\d+)\)$/.exec(rest);
    if (exit) {
      e.exit = Number(exit[1]);
      rest = rest.slice(0, exit.index);
    }
  }
  e.body = rest.trim();
  return e;
}

const ANY = "\u0000any";
const MORE = "\u0000more";

/** A documented JSON body as a value: `<...>` becomes ANY, `...` a MORE member or element. */
export function parsePattern(text: string): unknown {
  let out = "";
  const stack: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "<") {
      const end = text.indexOf(">", i);
      if (end < 0) throw new Error(`an unclosed < in ${text}`);
      out += JSON.stringify(ANY);
      i = end;
    } else if (text.startsWith("...", i)) {
      out += stack.at(-1) === "{" ? `${JSON.stringify(MORE)}:true` : JSON.stringify(MORE);
      i += 2;
    } else {
      if (c === "{" || c === "[") stack.push(c);
      if (c === "}" || c === "]") stack.pop();
      out += c;
    }
  }
  return JSON.parse(out);
}

/** Where `actual` departs from the pattern, or undefined when it matches. */
export function mismatch(pattern: unknown, actual: unknown, path = "body"): string | undefined {
  if (pattern === ANY) return actual === undefined ? `${path}: missing` : undefined;
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual)) return `${path}: ${JSON.stringify(actual)} is not an array`;
    const more = pattern.at(-1) === MORE;
    const items = more ? pattern.slice(0, -1) : pattern;
    if (more ? actual.length < items.length : actual.length !== items.length)
      return `${path}: ${actual.length} elements, the docs show ${items.length}${more ? " or more" : ""}`;
    for (let n = 0; n < items.length; n++) {
      const m = mismatch(items[n], actual[n], `${path}[${n}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (pattern !== null && typeof pattern === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual))
      return `${path}: ${JSON.stringify(actual)} is not an object`;
    const { [MORE]: more, ...members } = pattern as Record<string, unknown>;
    for (const [key, value] of Object.entries(members)) {
      if (!(key in actual)) return `${path}.${key}: missing`;
      const m = mismatch(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
      if (m) return m;
    }
    if (!more) {
      const extra = Object.keys(actual).filter((k) => !(k in members));
      if (extra.length) return `${path}: ${extra.join(", ")} not in the docs`;
    }
    return undefined;
  }
  return pattern === actual ? undefined : `${path}: ${JSON.stringify(actual)}, the docs say ${JSON.stringify(pattern)}`;
}

/** Compares a body or an output with what the docs show. */
export function bodyMismatch(documented: string, actual: string): string | undefined {
  const text = actual.trim();
  if (documented.startsWith("{") || documented.startsWith("[")) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return `not JSON: ${text.slice(0, 200)}`;
    }
    return mismatch(parsePattern(documented), value);
  }
  if (documented.endsWith("...")) {
    const prefix = documented.slice(0, -3);
    return text.startsWith(prefix) ? undefined : `${JSON.stringify(text.slice(0, 200))} does not start with ${JSON.stringify(prefix)}`;
  }
  return text === documented ? undefined : `${JSON.stringify(text.slice(0, 200))}, the docs say ${JSON.stringify(documented)}`;
}

/** A header value against the docs' (with `<...>` for anything). */
export function headerMismatch(name: string, documented: string, actual: string | undefined): string | undefined {
  if (actual === undefined) return `header ${name}: missing`;
  if (/^<[^>]*>$/.test(documented)) return undefined;
  return actual === documented ? undefined : `header ${name}: ${JSON.stringify(actual)}, the docs say ${JSON.stringify(documented)}`;
}

export interface Program {
  file: string;
  line: number;
  code: string;
}

/** The ```js blocks: whole programs (ES modules), run as written. */
export function jsPrograms(file: string, markdown: string): Program[] {
  const programs: Program[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```js") continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== "```");
    programs.push({ file, line: start, code: lines.slice(start, i).join("\n") + "\n" });
  }
  return programs;
}

/** What a program prints, from its `// -> ` comments, in order (`...` for anything), as a pattern
 *  for its output with whitespace collapsed; undefined when it shows none. */
export function printed(code: string): RegExp | undefined {
  const shown = [...code.matchAll(/\/\/ -> (.*)$/gm)].map((m) => m[1].trim());
  if (!shown.length) return undefined;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const one = (s: string) =>
    s
      .split("...")
      .map((part) => escape(part.replace(/\s+/g, " ").trim()).replace(/ /g, "\\s*"))
      .join(".*?");
  return new RegExp(`^\\s*${shown.map(one).join("\\s*")}\\s*$`, "s");
}
