/**
 * Express 4 keeps no mount path on its layers, only the regular expression that path-to-regexp 0.1 compiled
 * from it (`layer.regexp`, `layer.keys`). This reads the template back from that expression, for the forms
 * path-to-regexp 0.1 writes: literals, `:name`, `:name?`, `:name(re)`, `.:format`, `*` and arrays of paths
 * (alternatives joined by `|`). Anything else (a RegExp the app passed, a path using regular-expression
 * syntax) gives undefined, and the caller writes a fixed placeholder: a template is never guessed.
 */
export interface Alternative {
  template: string;
  /** The alternative alone, to tell at request time which path of an array matched. */
  regexp: RegExp;
}

interface Key {
  name: string | number;
}

// Endings path-to-regexp 0.1 appends: non-strict (`\/?`), strict, for `use` (lookahead) and routes (`$`).
const TAILS = ['\\/?(?=\\/|$)', '/?(?=/|$)', '?(?=\\/|$)', '?(?=/|$)', '(?=\\/|$)', '(?=/|$)', '(?:\\/|$)', '(?:/|$)', '\\/?$', '/?$', '?$', '$'];
const DEFAULT_CAPTURE = /^\(\[\^\\?\/(\\\.)?\]\+\?\)/;
const BACKTRACK_CAPTURE = /^\(\(\?:\(\?!\\?\/\|[^()]*\)\.\)\+\?\)/;
const CUSTOM_CAPTURE = /^\(((?:\\.|[^\\()])+)\)/;
const LITERAL = /^[^\\^$.|?*+()[\]{}]/;

export function express4Alternatives(regexp: RegExp, keys: readonly Key[]): Alternative[] | undefined {
  const alternatives = splitTopLevel(regexp.source);
  if (!alternatives) return undefined;
  const flags = regexp.flags.replace(/[gy]/g, '');
  const cursor = { key: 0 };
  const out: Alternative[] = [];
  for (const source of alternatives) {
    const template = readAlternative(source, keys, cursor);
    if (template === undefined) return undefined;
    out.push({ template, regexp: new RegExp(source, flags) });
  }
  return cursor.key === keys.length ? out : undefined;
}

function readAlternative(source: string, keys: readonly Key[], cursor: { key: number }): string | undefined {
  if (!source.startsWith('^')) return undefined;
  const tail = TAILS.find((t) => source.endsWith(t));
  if (tail === undefined) return undefined;
  let rest = source.slice(1, source.length - tail.length);
  let template = '';
  while (rest.length > 0) {
    if (rest.startsWith('\\/') || rest.startsWith('/')) {
      template += '/';
      rest = rest.slice(rest[0] === '\\' ? 2 : 1);
    } else if (rest.startsWith('\\') && rest.length > 1 && !/[\w]/.test(rest[1]!)) {
      template += rest[1];
      rest = rest.slice(2);
    } else if (rest.startsWith('(.*)')) {
      if (typeof keys[cursor.key++]?.name !== 'number') return undefined;
      template += '*';
      rest = rest.slice(4);
    } else if (rest.startsWith('(?:')) {
      const param = readParam(rest, keys[cursor.key++]);
      if (!param) return undefined;
      template += param.template;
      rest = rest.slice(param.length);
    } else if (LITERAL.test(rest)) {
      template += rest[0];
      rest = rest.slice(1);
    } else return undefined;
  }
  return template;
}

/** `(?:` [`\.`] [`\/`] capture `)` [`?`]: one named parameter. */
function readParam(text: string, key: Key | undefined): { template: string; length: number } | undefined {
  if (typeof key?.name !== 'string') return undefined;
  let at = 3;
  let prefix = '';
  if (text.startsWith('\\.', at)) {
    prefix += '.';
    at += 2;
  }
  if (text.startsWith('\\/', at) || text.startsWith('/', at)) {
    prefix = `/${prefix}`;
    at += text[at] === '\\' ? 2 : 1;
  }
  const capture = text.slice(at);
  let suffix = '';
  const generated = DEFAULT_CAPTURE.exec(capture) ?? BACKTRACK_CAPTURE.exec(capture);
  const custom = generated ? undefined : CUSTOM_CAPTURE.exec(capture);
  const matched = generated ?? custom;
  if (!matched) return undefined;
  if (custom) suffix = `(${custom[1]})`;
  at += matched[0].length;
  if (text[at] !== ')') return undefined;
  at += 1;
  if (text[at] === '?') {
    suffix += '?';
    at += 1;
  }
  // `/.` never occurs: the format dot precedes the slash in path-to-regexp's output.
  return { template: `${prefix}:${key.name}${suffix}`, length: at };
}

/** Splits at `|` outside groups and classes; undefined when brackets do not balance. */
function splitTopLevel(source: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  if (depth !== 0 || inClass) return undefined;
  parts.push(source.slice(start));
  return parts;
}
