/**
 * The side panel: follows the active notebook and shows its DAG (nb2pipe's own drawing, from
 * the server), steps, parameters and diagnostics, plus the Convert / Run / Verify actions and
 * their results. Rendering only: the state lives in each notebook's NotebookController.
 */
import { Widget } from '@lumino/widgets';

import type { IError } from './api';
import type { NotebookController } from './controller';
import { ParamsForm } from './paramsform';
import {
  cellLink,
  diagnosticsList,
  duration,
  errorBox,
  h,
  paramsTable,
  runTable,
  safeFragment,
  statusBadge,
  stepsTable,
  summary,
  verifyTable,
  type CellLink
} from './render';
import { DagZoom } from './zoom';

export const PANEL_ID = 'nb2pipe-lab-panel';

function asError(message: string): IError {
  return { kind: 'Error', message, cell: null, line: null, hint: null, text: message };
}

export class PipelinePanel extends Widget {
  constructor(private openDag?: (c: NotebookController) => void) {
    super();
    this.id = PANEL_ID;
    this.addClass('nb2pipe-lab-panel');
    this.title.caption = 'nb2pipe pipeline';
    this.node.tabIndex = 0;
    this.header = h('div', { class: 'nb2pipe-lab-header' });
    this.actions = h('div', { class: 'nb2pipe-lab-actions' });
    this.alerts = h('div', { class: 'nb2pipe-lab-alerts' });
    this.results = h('div', { class: 'nb2pipe-lab-results' });
    this.analysis = h('div', { class: 'nb2pipe-lab-analysis' });
    // The DAG and the form persist while the panel redraws around them (zoom, focus).
    this.dagZoom = new DagZoom('nb2pipe-lab-dag', 'pipeline DAG');
    this.runZoom = new DagZoom('nb2pipe-lab-run-dag', 'the DAG of the run');
    this.dag = this.dagZoom.view;
    this.dagTools = this.dagZoom.extra;
    this.paramsForm = new ParamsForm(() => this.onParamsChanged());
    this.details = h('div', { class: 'nb2pipe-lab-details' });
    this.node.append(
      this.header,
      this.actions,
      this.paramsForm.node,
      this.alerts,
      this.results,
      this.analysis,
      this.dagZoom.node,
      this.details
    );
    this.render();
  }

  get controller(): NotebookController | null {
    return this._controller;
  }

  set controller(c: NotebookController | null) {
    if (c === this._controller) {
      return;
    }
    this._controller?.changed.disconnect(this.render, this);
    this._controller = c;
    this.lastGraph = null;
    c?.changed.connect(this.render, this);
    this.render();
  }

  private get onCell(): CellLink {
    return (cell, line) => this._controller?.selectCell(cell, line);
  }

  render(): void {
    const c = this._controller;
    this.header.replaceChildren();
    this.actions.replaceChildren();
    this.alerts.replaceChildren();
    this.results.replaceChildren();
    this.analysis.replaceChildren();
    this.details.replaceChildren();
    this.dagTools.replaceChildren();
    if (!c || c.isDisposed) {
      this.header.append(
        h('div', { class: 'nb2pipe-lab-title' }, 'nb2pipe'),
        h('p', { class: 'nb2pipe-lab-muted' }, 'Open a notebook to see its pipeline.')
      );
      this.dagZoom.setHtml(null);
      this.paramsForm.update(null, { values: {}, unreadable: {} });
      this.lastGraph = null;
      return;
    }
    this.paramsForm.update(c.parameters(), c.paramState);
    this.renderHeader(c);
    this.renderActions(c);
    this.renderResults(c);
    this.renderAnalysis(c);
  }

  private renderHeader(c: NotebookController): void {
    const name = c.path.split('/').pop() ?? c.path;
    let state = 'up to date';
    if (c.analysing) {
      state = 'analysing…';
    } else if (c.requestError) {
      state = 'not analysed';
    } else if (!c.reply) {
      state = 'waiting…';
    }
    this.header.append(
      h(
        'div',
        { class: 'nb2pipe-lab-title' },
        h('span', {}, 'nb2pipe · '),
        h('span', { class: 'nb2pipe-lab-notebook', title: c.path }, name)
      ),
      h(
        'div',
        {
          class: 'nb2pipe-lab-state',
          'data-state': c.analysing ? 'analysing' : c.reply ? 'ready' : 'waiting'
        },
        state,
        c.panel.context.model.dirty ? ' (unsaved edits included)' : ''
      )
    );
  }

  private renderActions(c: NotebookController): void {
    const button = (
      label: string,
      cls: string,
      title: string,
      busy: boolean,
      onClick: () => void
    ) => {
      const b = h(
        'button',
        {
          class: `jp-Button nb2pipe-lab-button ${cls}`,
          type: 'button',
          title
        },
        busy ? `${label}…` : label
      ) as HTMLButtonElement;
      b.disabled = busy;
      b.addEventListener('click', onClick);
      return b;
    };
    const output = c.output;
    const invalid = Object.keys(c.paramProblems()).length > 0;
    const change = h(
      'button',
      { class: 'nb2pipe-lab-link', type: 'button', title: 'Choose the package folder' },
      output ? 'change' : 'choose'
    );
    change.addEventListener('click', () => void c.chooseOutput(true));
    this.actions.append(
      h(
        'div',
        { class: 'nb2pipe-lab-buttons' },
        button(
          'Convert',
          'nb2pipe-lab-convert',
          'Save the notebook and write its pipeline package',
          !!c.convertState?.busy || !!c.runState?.busy,
          () => void c.convert()
        ),
        button(
          'Run',
          'nb2pipe-lab-run',
          invalid
            ? 'Fix the parameters first'
            : 'Save, convert and run the pipeline (with the parameters below)',
          !!c.runState?.busy || invalid,
          () => void c.run()
        ),
        c.runState?.busy && c.runState.runId
          ? button(
              c.runState.cancelling ? 'Cancelling' : 'Cancel',
              'nb2pipe-lab-cancel',
              'Stop the run (as Ctrl-C would): it is recorded as interrupted',
              !!c.runState.cancelling,
              () => void c.cancel()
            )
          : null,
        button(
          'Verify',
          'nb2pipe-lab-verify',
          'Run the notebook and the pipeline and compare every step output',
          !!c.verifyState?.busy,
          () => void c.verify()
        )
      ),
      h(
        'div',
        { class: 'nb2pipe-lab-output' },
        'Package: ',
        h('code', {}, output ?? `${c.defaultOutput()} (not chosen yet)`),
        ' ',
        change
      )
    );
  }

  private renderResults(c: NotebookController): void {
    const conv = c.convertState;
    if (conv) {
      const box = h('section', { class: 'nb2pipe-lab-section nb2pipe-lab-convert-result' });
      box.append(this.dismiss(() => (c.convertState = null)), h('h3', {}, 'Convert'));
      if (conv.busy) {
        box.append(h('p', { class: 'nb2pipe-lab-muted' }, 'converting…'));
      } else if (conv.error) {
        box.append(errorBox(asError(conv.error), this.onCell, 'Convert failed'));
      } else if (conv.reply && !conv.reply.ok && conv.reply.error) {
        box.append(errorBox(conv.reply.error, this.onCell, 'Convert failed'));
      } else if (conv.reply) {
        const r = conv.reply;
        box.append(
          h(
            'p',
            { class: 'nb2pipe-lab-ok', 'data-result': 'converted' },
            `wrote ${r.output_rel ?? r.output} (${r.steps} steps, ${r.files?.length ?? 0} files)`
          )
        );
        const warnings = (r.diagnostics ?? []).filter(d => d.severity !== 'note');
        if (warnings.length) {
          box.append(diagnosticsList(warnings, this.onCell));
        }
      }
      this.results.append(box);
    }
    const run = c.runState;
    if (run) {
      const box = h('section', { class: 'nb2pipe-lab-section nb2pipe-lab-run-result' });
      const status = run.reply?.status ?? run.phase ?? 'starting';
      if (!run.busy) {
        box.append(this.dismiss(() => (c.runState = null)));
      }
      box.append(
        h(
          'h3',
          {},
          'Run ',
          run.reply?.run_id ? h('code', {}, run.reply.run_id) : '',
          ' ',
          statusBadge(run.error && !run.busy ? 'error' : status)
        )
      );
      if (run.params) {
        box.append(runParams(run.params));
      }
      if (run.error) {
        box.append(errorBox(asError(run.error), this.onCell, 'Run failed'));
      }
      if (run.cancelError) {
        box.append(errorBox(asError(run.cancelError), this.onCell, 'Cannot cancel'));
      }
      const r = run.reply;
      const interrupted = r?.status === 'interrupted';
      if (interrupted && r?.done) {
        box.append(
          h(
            'p',
            { class: 'nb2pipe-lab-run-cancelled' },
            'Cancelled: the running step was stopped, the steps after it skipped.'
          )
        );
      } else if (r?.error && (r.status === 'error' || !r.steps?.length)) {
        box.append(errorBox(r.error, this.onCell, 'Run failed'));
      }
      if (r?.steps?.length) {
        box.append(runTable(r.steps, this.onCell));
      }
      if (r?.done && r.status === 'failed' && r.error) {
        box.append(h('p', { class: 'nb2pipe-lab-run-summary' }, r.error.message));
      }
      if (r?.metrics && Object.keys(r.metrics).length) {
        box.append(
          h(
            'p',
            { class: 'nb2pipe-lab-metrics' },
            'metrics: ',
            Object.entries(r.metrics)
              .map(([k, v]) => `${k} = ${typeof v === 'number' ? +v.toFixed(4) : JSON.stringify(v)}`)
              .join(', ')
          )
        );
      }
      if (r?.done && r.duration !== undefined && r.duration !== null) {
        box.append(h('p', { class: 'nb2pipe-lab-muted' }, `took ${duration(r.duration)}`));
      }
      if (r?.report_url) {
        box.append(
          h(
            'p',
            {},
            h(
              'a',
              {
                class: 'nb2pipe-lab-report-link',
                href: r.report_url,
                target: '_blank',
                rel: 'noopener noreferrer'
              },
              'Open the run report ↗'
            )
          )
        );
      }
      this.runZoom.setHtml(r?.graph ?? null);
      if (r?.graph) {
        box.append(this.runZoom.node);
      }
      this.results.append(box);
      this.runZoom.restoreScroll();
    }
    const ver = c.verifyState;
    if (ver) {
      const box = h('section', { class: 'nb2pipe-lab-section nb2pipe-lab-verify-result' });
      const result = ver.reply?.result;
      const verdict = ver.busy
        ? ver.phase ?? 'running'
        : result?.error || ver.error
          ? 'error'
          : result?.ok
            ? 'verified'
            : 'mismatch';
      if (!ver.busy) {
        box.append(this.dismiss(() => (c.verifyState = null)));
      }
      box.append(h('h3', {}, 'Verify ', statusBadge(verdict)));
      if (ver.busy) {
        const secs = ver.started ? Math.round((Date.now() - ver.started) / 1000) : 0;
        box.append(
          h(
            'p',
            { class: 'nb2pipe-lab-muted' },
            `running the notebook and the pipeline… (${secs} s)`
          )
        );
      }
      if (ver.error) {
        box.append(errorBox(asError(ver.error), this.onCell, 'Verify failed'));
      }
      if (result?.error) {
        box.append(errorBox(result.error, this.onCell, 'Verify failed'));
      }
      if (result && !result.error) {
        if (result.notebook_error) {
          box.append(h('p', { class: 'nb2pipe-lab-run-error' }, `the notebook failed: ${result.notebook_error}`));
        }
        if (result.pipeline_error) {
          box.append(h('p', { class: 'nb2pipe-lab-run-error' }, `the pipeline failed: ${result.pipeline_error}`));
        }
        box.append(verifyTable(result));
        for (const note of result.notes ?? []) {
          box.append(h('p', { class: 'nb2pipe-lab-muted' }, note));
        }
      }
      this.results.append(box);
    }
  }

  /** A × that hides an action's result. */
  private dismiss(clear: () => void): HTMLElement {
    const b = h(
      'button',
      { class: 'nb2pipe-lab-dismiss', type: 'button', title: 'Hide this result', 'aria-label': 'Hide' },
      '×'
    );
    b.addEventListener('click', () => {
      clear();
      this.render();
    });
    return b;
  }

  private renderAnalysis(c: NotebookController): void {
    const reply = c.reply;
    // Problems of the notebook as it is now come first, above the actions' results.
    if (c.requestError) {
      this.alerts.append(errorBox(asError(c.requestError), this.onCell, 'Cannot reach nb2pipe'));
    }
    if (!reply) {
      return;
    }
    if (!reply.ok && reply.error) {
      this.alerts.append(errorBox(reply.error, this.onCell));
    }
    const data = reply.inspect;
    if (data) {
      this.analysis.append(
        h(
          'p',
          { class: 'nb2pipe-lab-summary' },
          h('b', {}, data.name),
          `: ${summary(data)} (steps ${data.split === 'tags' ? 'from tags' : `split by ${data.split}`})`
        )
      );
    }
    // The DAG: replaced only when the drawing changed (no flicker while typing).
    const graph = reply.ok ? reply.graph ?? null : this.lastGraph;
    this.dagZoom.setHtml(graph);
    this.lastGraph = graph;
    this.dag.classList.toggle('nb2pipe-lab-stale', !reply.ok);
    if (graph && this.openDag) {
      const open = h(
        'button',
        { class: 'nb2pipe-lab-link nb2pipe-lab-open-dag', type: 'button' },
        'open the DAG in a tab'
      );
      open.addEventListener('click', () => this.openDag?.(c));
      this.dagTools.append(open);
    }
    if (!data) {
      return;
    }
    this.details.append(
      h('h3', {}, 'Steps'),
      stepsTable(data, this.onCell),
      h('h3', {}, 'Parameters'),
      paramsTable(data, this.onCell),
      h('h3', {}, 'Diagnostics'),
      diagnosticsList(data.diagnostics, this.onCell)
    );
    if (data.derived.length) {
      this.details.append(
        h(
          'p',
          { class: 'nb2pipe-lab-muted' },
          'Derived values: ',
          ...data.derived.flatMap((d, i) => [
            i ? ', ' : '',
            h('code', {}, d.name),
            ' (',
            cellLink(d.cell, null, this.onCell),
            ')'
          ])
        )
      );
    }
  }

  /** A typed parameter changed: only the Run button's state depends on it. */
  private onParamsChanged(): void {
    const c = this._controller;
    if (c && !c.isDisposed) {
      this.actions.replaceChildren();
      this.renderActions(c);
    }
  }

  private _controller: NotebookController | null = null;
  private lastGraph: string | null = null;
  private dagZoom: DagZoom;
  private runZoom: DagZoom;
  private paramsForm: ParamsForm;
  private header: HTMLElement;
  private actions: HTMLElement;
  private alerts: HTMLElement;
  private results: HTMLElement;
  private analysis: HTMLElement;
  private dag: HTMLElement;
  private dagTools: HTMLElement;
  private details: HTMLElement;
}

/** "with n = 7, flag = false": the overrides a run was started with. */
function runParams(params: Record<string, string>): HTMLElement {
  const names = Object.keys(params);
  return h(
    'p',
    { class: 'nb2pipe-lab-muted nb2pipe-lab-run-params' },
    names.length
      ? `with ${names.map(n => `${n} = ${params[n]}`).join(', ')}`
      : 'with the default parameters'
  );
}

/** The DAG of one notebook at full size in a main-area tab, following its changes. */
export class DagView extends Widget {
  constructor(private controller: NotebookController) {
    super();
    this.addClass('nb2pipe-lab-dagview');
    this.title.label = `DAG · ${controller.path.split('/').pop()}`;
    this.title.closable = true;
    controller.changed.connect(this.render, this);
    controller.panel.disposed.connect(() => this.dispose());
    this.render();
  }

  render(): void {
    const graph = this.controller.reply?.graph ?? null;
    if (graph === this.shown) {
      return;
    }
    this.shown = graph;
    this.node.replaceChildren();
    if (graph) {
      this.node.append(safeFragment(graph));
    } else {
      this.node.append(h('p', { class: 'nb2pipe-lab-muted' }, 'No DAG: see the panel.'));
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.controller.changed.disconnect(this.render, this);
    }
    super.dispose();
  }

  private shown: string | null | undefined = undefined;
}
