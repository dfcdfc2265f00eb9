/**
 * nb2pipe's tag language, as the extension reads and writes it (SPEC section 1).
 *
 * Pure functions, no JupyterLab imports: the cell menu writes the standard tags with
 * `setRole` / `toggleAfter`, and `planCells` gives each cell its role and step before the
 * server's analysis comes back (and whenever the server could not analyse the notebook).
 */

import { PREFIX_WORDS, directiveProblem, isForeign, nearMiss, pyRepr } from './tagcheck';

export type Role =
  | 'parameters'
  | 'imports'
  | 'functions'
  | 'step'
  | 'skip'
  | 'metrics'
  | 'validate'
  | 'injected';

/** The roles a cell can be given from the menu besides `step:NAME`. */
export const MENU_ROLES: Role[] = [
  'skip',
  'parameters',
  'imports',
  'functions',
  'metrics',
  'validate'
];

const ROLE_TAGS: Record<string, Role> = {
  parameters: 'parameters',
  'pipeline-parameters': 'parameters', // Kale
  imports: 'imports',
  functions: 'functions',
  skip: 'skip',
  metrics: 'metrics',
  'pipeline-metrics': 'metrics', // Kale
  validate: 'validate',
  'injected-parameters': 'injected' // papermill
};
const STEP_PREFIXES = ['step:', 'block:']; // block: is Kale's
const AFTER_PREFIXES = ['after:', 'prev:']; // prev: is Kale's
const MODEL_PREFIX = 'model:';
const KNOWN_WORDS = [...Object.keys(ROLE_TAGS).sort(), ...PREFIX_WORDS];
const DIRECTIVE = /^\s*#\|\s*nb2pipe:([^\n]*)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else ' +
    'except finally for from global if import in is lambda nonlocal not or pass raise ' +
    'return try while with yield'
  ).split(' ')
);
export const MAX_NAME = 80;
const RESERVED_MODELS = new Set(['registry']); // <registry>/REGISTRY holds the layout version
/** The roles of a cell, strongest first (nb2pipe.compiler.tags._role). */
const PRECEDENCE: Role[] = [
  'injected',
  'skip',
  'parameters',
  'imports',
  'functions',
  'validate',
  'metrics'
];
const EXCLUSIVE: Role[] = ['parameters', 'imports', 'functions', 'injected'];

export interface ITagError {
  message: string; // as nb2pipe's compiler words it (without file and cell)
  hint: string;
}

export interface IParsedTags {
  role: Role | null; // the cell's role by precedence; 'step' for a step tag without one
  roles: Role[]; // the role tags, aliases resolved, in order
  step: string | null; // its step:NAME (normalised: '-' -> '_')
  after: string[];
  models: string[];
  foreign: string[]; // tags of other tools, kept untouched
  unknown: string[]; // those of the foreign tags no known tool uses (nb2pipe notes them)
  error: ITagError | null; // the first error nb2pipe's compiler reports for these tags
}

function hasPrefix(tag: string, prefixes: string[]): boolean {
  const low = tag.toLowerCase();
  return prefixes.some(p => low.startsWith(p));
}

/** Words of a first-line `#| nb2pipe: step:train after:split` directive. */
export function directiveWords(source: string): string[] {
  const first = source.split('\n', 1)[0];
  const m = DIRECTIVE.exec(first);
  return m ? m[1].split(/\s+/).filter(Boolean) : [];
}

const WHAT_PREFIX: Record<string, string> = {
  'step name': 'step:',
  'after: target': 'after:',
  'model name': 'model:'
};

/** A step, after: or model name from a tag, or the error nb2pipe gives for it. */
function tagName(raw: string, what: string): { name: string; error: ITagError | null } {
  const name = raw.trim().replace(/-/g, '_');
  const problem = nameProblem(raw);
  if (problem === null) {
    return { name, error: null };
  }
  const shown = raw.slice(0, 40) + (raw.length > 40 ? '...' : '');
  const fallback = what === 'model name' ? 'model' : 'step';
  const hint = `did you mean ${WHAT_PREFIX[what]}${identifier(raw, fallback)}?`;
  return { name, error: { message: `${what} ${pyRepr(shown)} ${problem}`, hint } };
}

/**
 * A cell's tags and first-line directive read as nb2pipe's compiler reads them
 * (nb2pipe.compiler.tags._parse): the same fields, and the same first error.
 */
export function parseTags(tags: readonly string[], source = ''): IParsedTags {
  const out: IParsedTags = {
    role: null,
    roles: [],
    step: null,
    after: [],
    models: [],
    foreign: [],
    unknown: [],
    error: null
  };
  const fail = (error: ITagError | null) => {
    out.error = out.error ?? error;
  };
  const problem = directiveProblem(source);
  if (problem) {
    fail({ message: problem.message, hint: problem.hint });
  }
  const steps: string[] = [];
  const words = directiveWords(source);
  [...tags, ...words].forEach((raw, n) => {
    const tag = raw.trim();
    const low = tag.toLowerCase();
    const value = tag.slice(tag.indexOf(':') + 1);
    if (Object.prototype.hasOwnProperty.call(ROLE_TAGS, low)) {
      if (!out.roles.includes(ROLE_TAGS[low])) {
        out.roles.push(ROLE_TAGS[low]);
      }
    } else if (hasPrefix(low, STEP_PREFIXES)) {
      const { name, error } = tagName(value, 'step name');
      fail(error);
      steps.push(name);
    } else if (hasPrefix(low, AFTER_PREFIXES)) {
      const { name, error } = tagName(value, 'after: target');
      fail(error);
      out.after.push(name);
    } else if (low.startsWith(MODEL_PREFIX)) {
      const { name, error } = tagName(value, 'model name');
      fail(error);
      if (!error && RESERVED_MODELS.has(name.toLowerCase())) {
        const message = `model name ${pyRepr(name)} is the name of the model registry's own file`;
        fail({ message, hint: `use another name, such as model:${name.toLowerCase()}_model` });
      }
      out.models.push(name);
    } else {
      fail(foreignError(tag, n >= tags.length));
      out.foreign.push(raw);
      if (!isForeign(tag)) {
        out.unknown.push(raw);
      }
    }
  });
  if (steps.length > 1) {
    fail({
      message: `the cell has ${steps.length} step tags (${steps.join(', ')})`,
      hint: 'give each cell at most one step:NAME tag'
    });
  }
  const exclusive = out.roles.filter(r => EXCLUSIVE.includes(r));
  if (exclusive.length > 1 || (exclusive.length > 0 && steps.length > 0)) {
    const both = [...exclusive, ...steps.map(s => `step:${s}`)];
    const message = `the cell is tagged both ${pyRepr(both[0])} and ${pyRepr(both[1])}`;
    fail({ message, hint: 'keep one of the two tags' });
  }
  out.step = steps[0] ?? null;
  out.role = PRECEDENCE.find(r => out.roles.includes(r)) ?? (out.step ? 'step' : null);
  return out;
}

/** The error for a tag that is not nb2pipe's: a near-miss of one, or any in a directive. */
function foreignError(tag: string, inDirective: boolean): ITagError | null {
  const shown = tag.slice(0, 40);
  const suggestion = isForeign(tag) ? null : nearMiss(tag);
  if (suggestion) {
    return {
      message: `tag ${pyRepr(shown)} is not an nb2pipe tag`,
      hint: `did you mean ${pyRepr(suggestion)}?`
    };
  }
  if (inDirective) {
    return {
      message: `${pyRepr(shown)} in the \`#| nb2pipe:\` directive is not an nb2pipe tag`,
      hint: "directives carry nb2pipe's words only: " + KNOWN_WORDS.join(', ')
    };
  }
  return null;
}

/** Why `name` cannot be a step name, or null when it can (nb2pipe.compiler.tags.step_name). */
export function nameProblem(raw: string): string | null {
  const name = raw.trim().replace(/-/g, '_');
  if (!name) {
    return 'is empty';
  }
  if (name.length > MAX_NAME) {
    return `is longer than ${MAX_NAME} characters`;
  }
  if (!NAME.test(name)) {
    return "is not an identifier (letters, digits and '_', not starting with a digit)";
  }
  if (KEYWORDS.has(name)) {
    return 'is a Python keyword';
  }
  if (name.startsWith('__') && name.endsWith('__')) {
    return 'is a dunder name';
  }
  return null;
}

/** A heading made a step name, as nb2pipe does: 'Train the model!' -> 'train_the_model'. */
export function identifier(text: string, fallback = 'step'): string {
  const ascii = text.normalize('NFKD').replace(/[^\x00-\x7f]/g, '');
  let name = ascii
    .toLowerCase()
    .replace(/[^0-9a-z]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_NAME)
    .replace(/^_+|_+$/g, '');
  if (!name) {
    name = fallback;
  }
  if (/^[0-9]/.test(name) || KEYWORDS.has(name)) {
    name = `${fallback}_${name}`;
  }
  return name;
}

/** Is this tag one of nb2pipe's structural words (a role or a step tag)? */
function isRoleTag(tag: string): boolean {
  const low = tag.trim().toLowerCase();
  return low in ROLE_TAGS || hasPrefix(low, STEP_PREFIXES);
}

/**
 * The tags with the cell's role replaced: `role` null clears it (the cell then continues
 * the step above). `after:`, `model:` and other tools' tags are kept in place.
 */
export function setRole(
  tags: readonly string[],
  role: Role | null,
  step?: string
): string[] {
  const kept = tags.filter(t => !isRoleTag(t));
  if (role === null) {
    return kept;
  }
  if (role === 'step') {
    if (!step || nameProblem(step)) {
      throw new Error(`invalid step name ${JSON.stringify(step ?? '')}`);
    }
    return [`step:${step.trim().replace(/-/g, '_')}`, ...kept];
  }
  return [role, ...kept];
}

/** Add or remove an `after:NAME` tag (Kale's `prev:NAME` counts as the same). */
export function toggleAfter(tags: readonly string[], name: string): string[] {
  const same = (t: string) =>
    hasPrefix(t, AFTER_PREFIXES) &&
    t.slice(t.indexOf(':') + 1).trim().replace(/-/g, '_') === name;
  if (tags.some(same)) {
    return tags.filter(t => !same(t));
  }
  return [...tags, `after:${name}`];
}

/** Remove every nb2pipe tag (roles, steps, after:), keeping other tools' tags. */
export function clearTags(tags: readonly string[]): string[] {
  return tags.filter(t => !isRoleTag(t) && !hasPrefix(t, AFTER_PREFIXES));
}

export interface ICellInfo {
  id?: string;
  type: string; // 'code' | 'markdown' | 'raw'
  tags: readonly string[];
  source: string;
}

export interface ICellPlan {
  index: number; // 1-based, counting every cell (nb2pipe's "cell N")
  id?: string;
  role: Role | null;
  step: string | null; // the step the cell belongs to
  after: string[];
}

/**
 * Each cell's role and step from its tags alone: a step tag starts a step, untagged code
 * cells continue it, `metrics` cells belong to the step above, `validate` cells are gates
 * named after it. An approximation of the server's analysis (which also cuts steps at
 * headings when there are no step tags), shown until that analysis arrives.
 */
export function planCells(cells: readonly ICellInfo[]): ICellPlan[] {
  let current: string | null = null;
  const plans: ICellPlan[] = [];
  cells.forEach((cell, i) => {
    const plan: ICellPlan = {
      index: i + 1,
      id: cell.id,
      role: null,
      step: null,
      after: []
    };
    if (cell.type === 'code') {
      const parsed = parseTags(cell.tags, cell.source);
      plan.after = parsed.after;
      plan.role = parsed.role;
      current = parsed.step ?? current; // a step tag starts its step whatever the role
      if (parsed.role === 'validate') {
        plan.step = current ? `check_${current}` : 'check';
      } else if (parsed.role === null || parsed.role === 'step' || parsed.role === 'metrics') {
        plan.step = current;
      }
    }
    plans.push(plan);
  });
  return plans;
}

/** The step names used in the notebook's tags, in order, without repeats. */
export function stepNames(cells: readonly ICellInfo[]): string[] {
  const seen: string[] = [];
  for (const cell of cells) {
    if (cell.type !== 'code') {
      continue;
    }
    const { step } = parseTags(cell.tags, cell.source);
    if (step && !seen.includes(step)) {
      seen.push(step);
    }
  }
  return seen;
}

/** The nearest markdown heading above cell `index` (0-based), as a step name suggestion. */
export function suggestName(
  cells: readonly ICellInfo[],
  index: number,
  taken: readonly string[]
): string {
  let name = '';
  for (let i = index - 1; i >= 0 && !name; i--) {
    const cell = cells[i];
    if (cell.type === 'code') {
      break;
    }
    if (cell.type === 'markdown') {
      const m = /^\s*#{1,6}\s+(.+?)\s*#*\s*$/m.exec(cell.source);
      if (m) {
        name = identifier(m[1]);
      }
    }
  }
  name = name || `step_${index + 1}`;
  let candidate = name;
  for (let k = 2; taken.includes(candidate); k++) {
    candidate = `${name}_${k}`;
  }
  return candidate;
}

const PALETTE = [
  '#1f77b4',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#ff7f0e',
  '#17becf',
  '#8c564b',
  '#e377c2',
  '#bcbd22',
  '#3f51b5'
];
const ROLE_COLOURS: Partial<Record<Role, string>> = {
  parameters: '#6f42c1',
  imports: '#57606a',
  functions: '#57606a',
  skip: '#9e9e9e',
  injected: '#9e9e9e'
};
export const GATE_COLOUR = '#b08800';

/** A stable colour for a step: by its position in the step order, else by its name. */
export function stepColour(step: string, order: readonly string[]): string {
  let i = order.indexOf(step);
  if (i < 0) {
    i = 0;
    for (const ch of step) {
      i = (i * 31 + ch.charCodeAt(0)) >>> 0;
    }
  }
  return PALETTE[i % PALETTE.length];
}

export interface IBadge {
  text: string;
  title: string;
  colour: string;
  kind: 'step' | 'role' | 'gate' | 'skip';
}

/** What a code cell's badge says and its colour. Null: no badge (e.g. markdown). */
export function badgeFor(
  plan: ICellPlan,
  order: readonly string[],
  gates: readonly string[] = []
): IBadge | null {
  const { role, step } = plan;
  if (role === 'skip' || role === 'injected') {
    return {
      text: role === 'skip' ? 'skip' : 'injected parameters',
      title: 'not part of the pipeline',
      colour: ROLE_COLOURS[role]!,
      kind: 'skip'
    };
  }
  if (role === 'parameters' || role === 'imports' || role === 'functions') {
    const title = {
      parameters: 'pipeline parameters',
      imports: 'imports and settings shared by every step',
      functions: 'shared definitions (common.py)'
    }[role];
    return { text: role, title, colour: ROLE_COLOURS[role]!, kind: 'role' };
  }
  if (role === 'validate' || (step !== null && gates.includes(step))) {
    return {
      text: step ? `gate ${step}` : 'validate',
      title: 'a gate: its asserts must hold for the steps after it to run',
      colour: GATE_COLOUR,
      kind: 'gate'
    };
  }
  if (step) {
    const first = role === 'step';
    const metrics = role === 'metrics';
    return {
      text: metrics ? `${step} · metrics` : step,
      title: first
        ? `starts step ${step}`
        : metrics
          ? `metrics of step ${step}`
          : `part of step ${step}`,
      colour: stepColour(step, order),
      kind: 'step'
    };
  }
  if (role === 'metrics') {
    return { text: 'metrics', title: 'run metrics', colour: '#57606a', kind: 'role' };
  }
  return null;
}
