/**
 * Run parameters typed in the panel: which input each parameter gets, its default as text,
 * and the checks of `nb2pipe run -p NAME=VALUE` (the server parses the text again, with
 * the runtime's own parser, before it starts anything). Secrets get no input and are never
 * sent: they come from their environment variable. No DOM here.
 */
import type { IParameter } from './api';

export type InputKind = 'checkbox' | 'int' | 'float' | 'json' | 'text';

export function inputKind(p: IParameter): InputKind {
  switch (p.type) {
    case 'bool':
      return 'checkbox';
    case 'int':
      return 'int';
    case 'float':
      return 'float';
    case 'list':
    case 'tuple':
    case 'dict':
      return 'json';
    default:
      return 'text'; // str, and Any (read as YAML by the server, as -p does)
  }
}

/** The parameters the panel offers: every one but the secrets. */
export function editable(params: readonly IParameter[]): IParameter[] {
  return params.filter(p => !p.secret);
}

/** The default as the input shows it ('' for None). */
export function defaultText(p: IParameter): string {
  const d = p.default;
  if (d === null || d === undefined) {
    return p.type === 'bool' ? 'false' : '';
  }
  if (typeof d === 'boolean') {
    return d ? 'true' : 'false';
  }
  if (typeof d === 'string') {
    return d;
  }
  if (typeof d === 'number') {
    return String(d);
  }
  return JSON.stringify(d);
}

const INT = /^\s*[+-]?\d+(_\d+)*\s*$/;
const FLOAT =
  /^\s*[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*([eE][+-]?\d+)?|\d+(_\d+)*\.|inf(inity)?|nan)\s*$/i;

function expects(p: IParameter, what: string, text: string): string {
  return `parameter '${p.name}' expects ${what}, got '${text}'`; // the words of -p
}

/** Why `text` is not a value of `p` (as `-p` would say), or null when it is one. */
export function problem(p: IParameter, text: string): string | null {
  const empty = text.trim() === '';
  const kind = inputKind(p);
  if (empty && kind !== 'text' && kind !== 'checkbox') {
    return p.optional ? null : `parameter '${p.name}' needs a value (${p.type})`;
  }
  if (kind === 'checkbox') {
    return text === 'true' || text === 'false' ? null : expects(p, 'true or false', text);
  }
  if (kind === 'int') {
    return INT.test(text) ? null : expects(p, 'int', text);
  }
  if (kind === 'float') {
    return FLOAT.test(text) ? null : expects(p, 'float', text);
  }
  if (kind === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return expects(p, `${p.type} (JSON)`, text);
    }
    const isArray = Array.isArray(value);
    const isObject = value !== null && typeof value === 'object' && !isArray;
    if (value === null && p.optional) {
      return null;
    }
    if (p.type === 'dict' ? !isObject : !isArray) {
      return expects(p, `${p.type} (JSON ${p.type === 'dict' ? 'object' : 'array'})`, text);
    }
  }
  return null;
}

/** The text sent for `text` typed: an empty optional value is None. */
export function wireText(p: IParameter, text: string): string {
  return text.trim() === '' && p.optional && inputKind(p) !== 'text' ? 'null' : text;
}

/**
 * The overrides to send: `{name: text}` for each editable parameter whose typed text
 * differs from its default; values of parameters the notebook no longer has are dropped.
 */
export function overrides(
  params: readonly IParameter[],
  values: Readonly<Record<string, string>>
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of editable(params)) {
    const text = values[p.name];
    if (text !== undefined && text !== defaultText(p)) {
      out[p.name] = wireText(p, text);
    }
  }
  return out;
}

/** Every problem of the typed values, by parameter name. */
export function problems(
  params: readonly IParameter[],
  values: Readonly<Record<string, string>>
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of editable(params)) {
    const text = values[p.name];
    if (text === undefined) {
      continue;
    }
    const why = problem(p, text);
    if (why) {
      out[p.name] = why;
    }
  }
  return out;
}
