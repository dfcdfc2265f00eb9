import { describe, expect, it, vi } from 'vitest';

import type { IInspect } from '../api';
import {
  diagnosticsList,
  duration,
  errorBox,
  formatDefault,
  paramsTable,
  runTable,
  safeFragment,
  stepsTable,
  summary,
  verifyTable
} from '../render';

const inspect: IInspect = {
  name: 'wine',
  notebook: 'wine.ipynb',
  split: 'tags',
  steps: [
    {
      name: 'load',
      kind: 'step',
      cells: [6],
      inputs: {},
      outputs: ['df'],
      params: [],
      after: [],
      metrics: [],
      doc: 'Read the data.'
    },
    {
      name: 'check_load',
      kind: 'gate',
      cells: [7],
      inputs: { df: 'load' },
      outputs: [],
      params: [],
      after: [],
      metrics: [],
      doc: ''
    },
    {
      name: 'split',
      kind: 'step',
      cells: [10, 11],
      inputs: { df: 'load', X: 'prep', y: 'prep' },
      outputs: ['X_train', 'X_test'],
      params: ['seed'],
      after: [],
      metrics: [],
      doc: ''
    }
  ],
  parameters: [
    { name: 'seed', type: 'int', optional: false, default: 7, help: 'random seed', secret: false, env: null, cell: 3 },
    { name: 'token', type: 'str', optional: false, default: null, help: '', secret: true, env: 'API_TOKEN', cell: 3 },
    { name: 'depth', type: 'int', optional: true, default: null, help: '', secret: false, env: null, cell: 3 }
  ],
  derived: [],
  requirements: [],
  diagnostics: [
    { severity: 'warning', message: 'tag stpe:x is not an nb2pipe tag', cell: 4, line: null },
    { severity: 'note', message: 'no cell', cell: null, line: null }
  ],
  guard_policy: ''
};

describe('safeFragment', () => {
  it('keeps the drawing and its scoped style, drops scripts and handlers', () => {
    const html =
      '<style>.nb2pipe svg{}</style><div class="nb2pipe"><svg class="dag"><g class="node" data-step="a" onclick="alert(1)">' +
      '<text>a</text></g><a href="javascript:alert(1)">x</a><foreignObject><div>y</div></foreignObject>' +
      '<path marker-end="url(#nb2pipe-arrow)" d="M0,0"/></svg><script>alert(2)</script><img src="http://evil/x.png"></div>';
    const host = document.createElement('div');
    host.append(safeFragment(html));
    expect(host.querySelector('style')).not.toBeNull();
    expect(host.querySelector('g.node[data-step="a"]')).not.toBeNull();
    expect(host.querySelector('script')).toBeNull();
    expect(host.querySelector('foreignObject, foreignobject')).toBeNull();
    expect(host.querySelector('[onclick]')).toBeNull();
    expect(host.querySelector('a')!.hasAttribute('href')).toBe(false);
    expect(host.querySelector('img')!.hasAttribute('src')).toBe(false);
    expect(host.querySelector('path')!.getAttribute('marker-end')).toBe('url(#nb2pipe-arrow)');
  });
});

describe('panel pieces', () => {
  it('diagnostics select their cell when clicked', () => {
    const onCell = vi.fn();
    const list = diagnosticsList(inspect.diagnostics, onCell);
    const items = list.querySelectorAll('li');
    expect(items).toHaveLength(2);
    (items[0] as HTMLElement).click();
    expect(onCell).toHaveBeenCalledWith(4, null);
    (items[1] as HTMLElement).click();
    expect(onCell).toHaveBeenCalledTimes(1); // no cell: nothing to select
    expect(items[0].textContent).toContain('cell 4');
    expect(diagnosticsList([], onCell).textContent).toBe('No diagnostics.');
  });

  it('an error shows its message and a link to its cell and line, no traceback', () => {
    const onCell = vi.fn();
    const box = errorBox(
      { kind: 'AnalysisError', message: "name 'X' is undefined", cell: 12, line: 3, hint: 'define it', text: '' },
      onCell
    );
    expect(box.textContent).toContain("cell 12, line 3: name 'X' is undefined");
    expect(box.textContent).toContain('define it');
    (box.querySelector('button') as HTMLElement).click();
    expect(onCell).toHaveBeenCalledWith(12, 3);
  });

  it('the steps table groups inputs by the step they come from', () => {
    const table = stepsTable(inspect, vi.fn());
    const rows = [...table.querySelectorAll('tbody tr')].map(r =>
      [...r.querySelectorAll('td')].map(td => td.textContent)
    );
    expect(rows[0]).toEqual(['load', '6', '—', 'df']);
    expect(rows[1][0]).toBe('⬡ check_load');
    expect(rows[2][1]).toBe('10 11');
    expect(rows[2][2]).toBe('df ← load; X, y ← prep');
  });

  it('parameters show Python defaults; secrets show their variable, never a value', () => {
    expect(formatDefault({ default: 'a', secret: false, env: null })).toBe('"a"');
    expect(formatDefault({ default: true, secret: false, env: null })).toBe('True');
    expect(formatDefault({ default: [1, 2], secret: false, env: null })).toBe('[1,2]');
    const text = paramsTable(inspect, vi.fn()).textContent!;
    expect(text).toContain('env API_TOKEN');
    expect(text).toContain('int | None');
  });

  it('run rows: status, time, the error with its cell; no "no earlier result" noise', () => {
    const onCell = vi.fn();
    const table = runTable(
      [
        { step: 'load', status: 'ok', duration: 0.25, reason: 'no earlier result', cached_from: null, error: null },
        { step: 'split', status: 'cached', duration: 0.01, reason: null, cached_from: 'r1', error: null },
        { step: 'train', status: 'failed', duration: 2, reason: 'parameter seed changed', cached_from: null,
          error: { message: 'ValueError: bad', cell: 12, line: 2 } }
      ],
      onCell
    );
    const rows = [...table.querySelectorAll('tbody tr')];
    expect(rows.map(r => r.getAttribute('data-step'))).toEqual(['load', 'split', 'train']);
    expect(rows[0].textContent).toBe('loadok250 ms');
    expect(rows[1].textContent).toContain('cached from run r1');
    expect(rows[2].textContent).toContain('cell 12, line 2: ValueError: bad');
    (rows[2].querySelector('button') as HTMLElement).click();
    expect(onCell).toHaveBeenCalledWith(12, 2);
  });

  it('verify rows show each verdict', () => {
    const t = verifyTable({
      ok: false,
      rows: [
        { step: 'load', variable: 'df', verdict: 'ok', how: 'DataFrame', detail: '' },
        { step: 'split', variable: 'X', verdict: 'mismatch', how: 'ndarray', detail: 'max diff 0.1' }
      ]
    });
    expect(t.querySelectorAll('[data-status="mismatch"]')).toHaveLength(1);
    expect(t.textContent).toContain('max diff 0.1');
  });

  it('summaries and durations read well', () => {
    expect(summary(inspect)).toBe('2 steps, 1 gate, 3 parameters, 1 warning');
    expect(duration(0.0123)).toBe('12 ms');
    expect(duration(3.21)).toBe('3.2 s');
    expect(duration(125)).toBe('2 min 5 s');
    expect(duration(null)).toBe('');
  });
});
