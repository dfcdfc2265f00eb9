/**
 * DOM building blocks of the panel. Plain DOM (no framework), every text set with
 * textContent; the one HTML the server sends (nb2pipe's DAG drawing) goes through
 * `safeFragment`. No JupyterLab imports, so these are unit-tested in jsdom.
 */
import type {
  IDiagnostic,
  IError,
  IInspect,
  IRunStep,
  IVerifyResult
} from './api';

/** Called with a 1-based cell number (and line) when the user clicks a reference to it. */
export type CellLink = (cell: number, line?: number | null) => void;

type Child = Node | string | null | undefined | false;

export function h(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined) {
      el.setAttribute(k, v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** "cell 7, line 2" as a button that selects the cell. */
export function cellLink(
  cell: number | null | undefined,
  line: number | null | undefined,
  onCell: CellLink
): HTMLElement | null {
  if (cell === null || cell === undefined) {
    return null;
  }
  const text = line ? `cell ${cell}, line ${line}` : `cell ${cell}`;
  const button = h(
    'button',
    {
      class: 'nb2pipe-lab-cell-link',
      type: 'button',
      title: 'Select this cell',
      'data-cell': String(cell)
    },
    text
  );
  button.addEventListener('click', () => onCell(cell, line));
  return button;
}

export function errorBox(
  error: IError,
  onCell: CellLink,
  title = 'nb2pipe cannot analyse this notebook'
): HTMLElement {
  return h(
    'div',
    { class: 'nb2pipe-lab-error', role: 'alert' },
    h('div', { class: 'nb2pipe-lab-error-title' }, title),
    h(
      'div',
      { class: 'nb2pipe-lab-error-message' },
      cellLink(error.cell, error.line, onCell),
      error.cell !== null && error.cell !== undefined ? ': ' : '',
      error.message
    ),
    error.hint ? h('div', { class: 'nb2pipe-lab-hint' }, error.hint) : null
  );
}

export function diagnosticsList(
  diagnostics: readonly IDiagnostic[],
  onCell: CellLink
): HTMLElement {
  if (!diagnostics.length) {
    return h('p', { class: 'nb2pipe-lab-muted' }, 'No diagnostics.');
  }
  const list = h('ul', { class: 'nb2pipe-lab-diagnostics' });
  for (const d of diagnostics) {
    const item = h(
      'li',
      {
        class: `nb2pipe-lab-diag nb2pipe-lab-diag-${d.severity}`,
        'data-cell': d.cell === null ? undefined : String(d.cell),
        title: d.cell === null ? undefined : 'Click to select the cell'
      },
      h('span', { class: 'nb2pipe-lab-severity' }, d.severity),
      ' ',
      cellLink(d.cell, d.line, onCell),
      d.cell === null ? '' : ' ',
      h('span', { class: 'nb2pipe-lab-diag-message' }, d.message)
    );
    if (d.cell !== null) {
      item.addEventListener('click', event => {
        if (!(event.target as HTMLElement).closest('button')) {
          onCell(d.cell!, d.line);
        }
      });
    }
    list.append(item);
  }
  return list;
}

function table(headers: string[], rows: Child[][], cls: string): HTMLElement {
  return h(
    'table',
    { class: `nb2pipe-lab-table ${cls}` },
    h('thead', {}, h('tr', {}, ...headers.map(x => h('th', {}, x)))),
    h(
      'tbody',
      {},
      ...rows.map(r => h('tr', {}, ...r.map(c => h('td', {}, c))))
    )
  );
}

function cellsOf(cells: readonly number[], onCell: CellLink): HTMLElement {
  const span = h('span', { class: 'nb2pipe-lab-cells' });
  cells.forEach((c, i) => {
    if (i) {
      span.append(' ');
    }
    const b = h(
      'button',
      {
        class: 'nb2pipe-lab-cell-link',
        type: 'button',
        'data-cell': String(c),
        title: 'Select this cell'
      },
      String(c)
    );
    b.addEventListener('click', () => onCell(c));
    span.append(b);
  });
  return span;
}

export function stepsTable(data: IInspect, onCell: CellLink): HTMLElement {
  const rows = data.steps.map(s => {
    const bySource: Record<string, string[]> = {};
    for (const [v, src] of Object.entries(s.inputs)) {
      (bySource[src] = bySource[src] || []).push(v);
    }
    const inputs = Object.entries(bySource)
      .map(([src, vs]) => `${vs.join(', ')} ← ${src}`)
      .join('; ');
    const name = h(
      'span',
      { class: `nb2pipe-lab-step nb2pipe-lab-kind-${s.kind}`, title: s.doc || '' },
      s.kind === 'gate' ? `⬡ ${s.name}` : s.name
    );
    return [
      name,
      cellsOf(s.cells, onCell),
      inputs || '—',
      s.outputs.join(', ') || '—'
    ];
  });
  return table(
    ['step', 'cells', 'inputs', 'outputs'],
    rows,
    'nb2pipe-lab-steps'
  );
}

export function formatDefault(p: {
  default: unknown;
  secret: boolean;
  env: string | null;
}): string {
  if (p.secret) {
    return `env ${p.env ?? '?'}`;
  }
  if (p.default === null || p.default === undefined) {
    return 'None';
  }
  if (typeof p.default === 'string') {
    return JSON.stringify(p.default);
  }
  if (typeof p.default === 'boolean') {
    return p.default ? 'True' : 'False';
  }
  return JSON.stringify(p.default);
}

export function paramsTable(data: IInspect, onCell: CellLink): HTMLElement {
  if (!data.parameters.length) {
    return h('p', { class: 'nb2pipe-lab-muted' }, 'No parameters cell.');
  }
  const rows = data.parameters.map(p => [
    h('code', {}, p.name),
    p.type + (p.optional && p.type !== 'Any' ? ' | None' : ''),
    h('code', {}, formatDefault(p)),
    p.help || '',
    cellsOf([p.cell], onCell)
  ]);
  return table(
    ['name', 'type', 'default', 'help', 'cell'],
    rows,
    'nb2pipe-lab-params'
  );
}

export function statusBadge(status: string): HTMLElement {
  const cls = status.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return h(
    'span',
    { class: `nb2pipe-lab-status nb2pipe-lab-status-${cls}`, 'data-status': status },
    status
  );
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 90) {
    return `${seconds.toFixed(1)} s`;
  }
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function runTable(steps: readonly IRunStep[], onCell: CellLink): HTMLElement {
  const rows = steps.map(s => {
    // why it ran; the first run of a step has nothing to say
    let note: Child = s.reason && s.reason !== 'no earlier result' ? s.reason : '';
    if (s.error) {
      note = h(
        'span',
        { class: 'nb2pipe-lab-run-error' },
        cellLink(s.error.cell, s.error.line, onCell),
        s.error.cell ? ': ' : '',
        s.error.message
      );
    } else if (s.status === 'cached' && s.cached_from) {
      note = `cached from run ${s.cached_from}`;
    }
    return [
      h('span', { class: 'nb2pipe-lab-step' }, s.step),
      statusBadge(s.status),
      duration(s.duration),
      note
    ];
  });
  const t = table(['step', 'status', 'time', 'note'], rows, 'nb2pipe-lab-run');
  steps.forEach((s, i) => {
    t.querySelectorAll('tbody tr')[i]?.setAttribute('data-step', s.step);
  });
  return t;
}

export function verifyTable(result: IVerifyResult): HTMLElement {
  const rows = (result.rows ?? []).map(r => [
    h('span', { class: 'nb2pipe-lab-step' }, r.step),
    r.variable ? h('code', {}, r.variable) : '—',
    statusBadge(r.verdict),
    r.how,
    r.detail
  ]);
  return table(
    ['step', 'variable', 'verdict', 'compared as', 'detail'],
    rows,
    'nb2pipe-lab-verify'
  );
}

const FORBIDDEN = new Set([
  'script',
  'iframe',
  'object',
  'embed',
  'foreignobject',
  'link',
  'meta',
  'base',
  'form',
  'input',
  'textarea',
  'button',
  'animate',
  'set'
]);

/**
 * The server's DAG drawing (nb2pipe's own HTML fragment: a <style> scoped to .nb2pipe and an
 * inline SVG) made inert: no scripts, no event handlers, no javascript: links. The
 * renderer autoescapes every text already; this is defence in depth.
 */
export function safeFragment(html: string): DocumentFragment {
  const template = document.createElement('template');
  template.innerHTML = html;
  const walker = (root: ParentNode) => {
    for (const el of Array.from(root.querySelectorAll('*'))) {
      if (FORBIDDEN.has(el.tagName.toLowerCase())) {
        el.remove();
        continue;
      }
      for (const attr of Array.from(el.attributes)) {
        const name = attr.name.toLowerCase();
        const value = attr.value.trim().toLowerCase();
        if (
          name.startsWith('on') ||
          ((name === 'href' || name === 'xlink:href' || name === 'src') &&
            !value.startsWith('#') &&
            !value.startsWith('data:image/'))
        ) {
          el.removeAttribute(attr.name);
        }
      }
    }
  };
  walker(template.content);
  return template.content;
}

/** "3 steps, 2 gates" */
export function summary(data: IInspect): string {
  const steps = data.steps.filter(s => s.kind !== 'gate').length;
  const gates = data.steps.length - steps;
  const parts = [`${steps} step${steps === 1 ? '' : 's'}`];
  if (gates) {
    parts.push(`${gates} gate${gates === 1 ? '' : 's'}`);
  }
  parts.push(
    `${data.parameters.length} parameter${data.parameters.length === 1 ? '' : 's'}`
  );
  const errors = data.diagnostics.filter(d => d.severity === 'error').length;
  const warnings = data.diagnostics.filter(d => d.severity === 'warning').length;
  if (warnings) {
    parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  }
  if (errors) {
    parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  }
  return parts.join(', ');
}
