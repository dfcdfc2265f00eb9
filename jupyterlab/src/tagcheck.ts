/**
 * Typos in tags and directives are never silent: the Lab's copy of
 * nb2pipe/compiler/tagcheck.py (near-misses of nb2pipe's tags, other tools' tags,
 * malformed `#| nb2pipe:` directives). tests/data/tag_cases.json keeps the two alike.
 */

export const ROLE_WORDS = [
  'parameters',
  'pipeline-parameters',
  'imports',
  'functions',
  'skip',
  'metrics',
  'pipeline-metrics',
  'validate',
  'injected-parameters'
];
export const PREFIX_WORDS = ['step', 'block', 'after', 'prev', 'model'];

/** Tags other tools define: kept for exporters that understand them, otherwise ignored. */
const FOREIGN_TAGS = new Set(
  (
    // jupyter-book / MyST-NB and nbconvert's TagRemovePreprocessor conventions
    'remove-cell remove-input remove-output remove-stderr remove-stdout remove_cell ' +
    'remove_input remove_output remove_all_outputs hide-cell hide-input hide-output ' +
    'hide_cell hide_input hide_output hide_code hide raises-exception skip-execution ' +
    'full-width margin output_scroll scroll-output scroll-input thebe-init dropdown popout ' +
    'toggle ' +
    // nbval, nbsphinx, jupytext, testbook-style runners
    'nbval-ignore-output nbval-check-output nbval-raises-exception nbval-skip ' +
    'nbval-sanitize nbsphinx-hidden nbsphinx-thumbnail nbsphinx-gallery nbsphinx-toctree ' +
    'active-ipynb active-py active-md active-r active-sh'
  ).split(' ')
);
const FOREIGN_PREFIXES = ['limit:', 'image:', 'annotation:', 'label:', 'volume:']; // Kale's

const LOOKS_LIKE_DIRECTIVE = /^\s*#\s*(\|\s*)?nb2pipe\b\s*(:)?([^\n]*)$/i;
const EXACT = /^\s*#\|\s*nb2pipe:([^\n]*)$/;

export function isForeign(tag: string): boolean {
  const low = tag.trim().toLowerCase();
  return FOREIGN_TAGS.has(low) || FOREIGN_PREFIXES.some(p => low.startsWith(p));
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i, ...new Array<number>(b.length).fill(0)];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] !== b[j - 1] ? 1 : 0;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        cur[j] = Math.min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

const ENDINGS = new Set(['', 's', 'e', 'd', 'ed', 'es', 'ing', 'ion', 'ions', 'ped', 'ping']);
const ALIASES: Record<string, string> = {
  params: 'parameters',
  param: 'parameters',
  parms: 'parameters'
};

/** The option `word` is probably a typo of (tagcheck._closest). */
function closest(word: string, options: readonly string[]): string | null {
  let best: [number, string] | null = null;
  for (const option of options) {
    const d = distance(word, option);
    const stem = option.length > 4 ? option.slice(0, -1) : option;
    const near =
      d <= (option.length >= 8 ? 2 : 1) ||
      (word.length >= 4 && option.startsWith(word)) ||
      (word.startsWith(stem) && ENDINGS.has(word.slice(stem.length)));
    if (near && word !== option && (best === null || d < best[0])) {
      best = [d, option];
    }
  }
  return best ? best[1] : null;
}

/** The nb2pipe tag `tag` probably meant, or null. */
export function nearMiss(tag: string): string | null {
  const low = tag.trim().toLowerCase();
  const colon = low.indexOf(':');
  const head = colon < 0 ? low : low.slice(0, colon);
  if (colon < 0) {
    if (PREFIX_WORDS.includes(head)) {
      return `${head}:NAME`; // the word without its name
    }
    const word = closest(head, PREFIX_WORDS);
    if (word !== null && head.length <= word.length + 1) {
      return `${word}:NAME`;
    }
    return (Object.prototype.hasOwnProperty.call(ALIASES, head) ? ALIASES[head] : null) ?? closest(head, ROLE_WORDS);
  }
  const word = closest(head, PREFIX_WORDS);
  return word ? `${word}:${low.slice(colon + 1).trim()}` : null;
}

export interface IDirectiveProblem {
  line: number;
  message: string;
  hint: string;
}

/** A comment line that looks like a directive and is not one nb2pipe reads. */
export function directiveProblem(source: string): IDirectiveProblem | null {
  const lines = source.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const m = LOOKS_LIKE_DIRECTIVE.exec(line);
    if (m === null) {
      continue;
    }
    const words = m[3].trim().replace(/^[:=]+/, '').trim();
    const fixed = `#| nb2pipe: ${words || 'WORDS'}`;
    const exact = EXACT.exec(line);
    if (exact !== null && n > 0) {
      const message = "an nb2pipe directive must be the cell's first line";
      return { line: n + 1, message, hint: 'move it up' };
    }
    if (exact !== null && !exact[1].trim()) {
      const hint = 'e.g. `#| nb2pipe: step:train`';
      return { line: n + 1, message: 'the directive names no tag', hint };
    }
    if (exact === null && (m[1] !== undefined || m[2] !== undefined)) {
      return {
        line: n + 1,
        message: `${pyRepr(line.trim())} is not a directive`,
        hint: `did you mean \`${fixed}\`?`
      };
    }
  }
  return null;
}

/** A string quoted as Python's repr() quotes it (nb2pipe's messages quote names so). */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const named: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch in named) {
      out += named[ch];
    } else if (ch === quote) {
      out += `\\${ch}`;
    } else if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) {
      out += `\\x${code.toString(16).padStart(2, '0')}`;
    } else {
      out += ch;
    }
  }
  return quote + out + quote;
}
