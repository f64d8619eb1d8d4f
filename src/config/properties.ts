/**
 * Java `.properties` parsing, enough for Kafka's `server.properties`: `key=value`, `key: value` and
 * `key value` separators, `#`/`!` comments, backslash line continuations and the usual escapes.
 */
export interface PropertyLine {
  key: string;
  value: string;
  line: number;
}

function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i === s.length - 1) {
      out += c;
      continue;
    }
    const n = s[++i]!;
    if (n === 't') out += '\t';
    else if (n === 'n') out += '\n';
    else if (n === 'r') out += '\r';
    else if (n === 'f') out += '\f';
    else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16));
      i += 4;
    } else out += n;
  }
  return out;
}

/** Ends with an odd number of backslashes, i.e. continues on the next line. */
function continues(line: string): boolean {
  let n = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

export function parseProperties(text: string): PropertyLine[] {
  const lines = text.split(/\r\n|\r|\n/);
  const out: PropertyLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = lines[i]!.replace(/^[ \t\f]+/, '');
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    while (continues(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    // The key ends at the first unescaped '=', ':' or whitespace.
    let k = 0;
    while (k < logical.length) {
      const c = logical[k]!;
      if (c === '\\') {
        k += 2;
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      k++;
    }
    const key = unescape(logical.slice(0, k));
    let rest = logical.slice(k).replace(/^[ \t\f]+/, '');
    if (rest[0] === '=' || rest[0] === ':') rest = rest.slice(1).replace(/^[ \t\f]+/, '');
    out.push({ key, value: unescape(rest), line: startLine });
  }
  return out;
}
