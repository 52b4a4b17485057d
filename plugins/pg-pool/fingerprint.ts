import { literalEnd } from '../pg/sql.js';

const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isWordChar = (c: string | undefined) => c !== undefined && /[\w$\u0080-\uffff]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const NUMBER = /(?:0[xob][\da-f_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[+-]?\d+)?)/iy;

/**
 * A query's fingerprint: its text with literal values replaced by `?`, lists folded and whitespace
 * collapsed, so the same statement with different values reads the same — and no value is ever logged.
 * Literals are read as PostgreSQL's lexer reads them (`literalEnd`: '' and E'' strings, B'', X'', U&'',
 * `$$…$$` and `$tag$…$tag$` bodies, whatever quotes they contain); names, quoted or not, are kept whole.
 */
export function fingerprint(text: string, maxLength = 300): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    const literal = literalEnd(text, i);
    if (literal !== -1) {
      out += '?';
      i = literal;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      out += ' ';
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '/' && text[j + 1] === '*') (depth++, j++);
        else if (text[j] === '*' && text[j + 1] === '/') (depth--, j++);
      }
      out += ' ';
      i = j;
    } else if (c === '"') {
      let end = i + 1;
      while (end < text.length && !(text[end] === '"' && text[end + 1] !== '"')) end += text[end] === '"' ? 2 : 1;
      out += text.slice(i, end + 1);
      i = end + 1;
    } else if (c === '$' && isDigit(text[i + 1])) {
      let end = i + 1;
      while (isDigit(text[end])) end++;
      out += '$n';
      i = end;
    } else if (isWordStart(c)) {
      let end = i + 1;
      while (isWordChar(text[end])) end++;
      out += text.slice(i, end);
      i = end;
    } else if (isDigit(c) || (c === '.' && isDigit(text[i + 1]))) {
      NUMBER.lastIndex = i;
      NUMBER.exec(text);
      out += '?';
      i = Math.max(NUMBER.lastIndex, i + 1);
    } else {
      out += c;
      i++;
    }
  }
  out = out.replace(/\s+/g, ' ').trim();
  // `IN (?, ?, ?)` and `VALUES (?, ?), (?, ?)` of any length read the same.
  out = out.replace(/\(\s*(?:\?|\$n)(?:\s*,\s*(?:\?|\$n))*\s*\)/g, '(?)').replace(/\(\?\)(?:\s*,\s*\(\?\))+/g, '(?)');
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}
