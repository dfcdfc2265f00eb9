/**
 * One open notebook as nb2pipe sees it: its live analysis (debounced, from the notebook's
 * current content, unsaved edits included), its cell badges, and its actions (convert, run,
 * verify) with their results. The panel shows the controller of the active notebook.
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import type { ICellModel } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import {
  get,
  post,
  RequestError,
  type IConvertReply,
  type IInspectReply,
  type IParameter,
  type IRunStarted,
  type IRunStatus,
  type IVerifyStatus
} from './api';
import { CellDecorator } from './decorations';
import { overrides, problems } from './params';
import type { IParamValues } from './paramsform';
import {
  planCells,
  stepNames,
  type ICellInfo,
  type ICellPlan,
  type Role
} from './tags';

export const METADATA_KEY = 'nb2pipe';

export interface IActionState<T> {
  busy: boolean;
  phase?: string;
  reply?: T;
  error?: string;
  started?: number;
}

export interface IRunState extends IActionState<IRunStatus> {
  runId?: string;
  /** The parameter overrides the run was started with ({name: text}). */
  params?: Record<string, string>;
  /** Cancel was asked and the run has not stopped yet. */
  cancelling?: boolean;
  cancelError?: string;
}

export interface IOptions {
  debounceMs: number;
  pollMs: number;
  onBadgeClick: (panel: NotebookPanel, cellIndex: number, anchor: HTMLElement) => void;
}

export class NotebookController {
  constructor(
    readonly panel: NotebookPanel,
    private options: IOptions
  ) {
    this.decorator = new CellDecorator(panel, (cell, anchor) => {
      const i = panel.content.widgets.indexOf(cell);
      options.onBadgeClick(panel, i, anchor);
    });
    const model = panel.context.model;
    model.contentChanged.connect(this.onContentChanged, this);
    model.cells.changed.connect(this.onCellsChanged, this);
    this.connectCells();
    void panel.context.ready.then(() => {
      this.connectCells();
      this.redecorate();
      this.schedule(0);
    });
  }

  readonly decorator: CellDecorator;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get path(): string {
    return this.panel.context.path;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this.timer);
    this.abort?.abort();
    for (const t of this.pollTimers) {
      window.clearTimeout(t);
    }
    Signal.clearData(this);
  }

  // -- the live analysis ---------------------------------------------------------------

  analysing = false;
  reply: IInspectReply | null = null;
  requestError: string | null = null;
  analysedAt: number | null = null;
  /** Set while a local tag change has not been analysed by the server yet. */
  private tagsVersion = 0;
  private replyTagsVersion = -1;

  /** The cells as the analysis needs them: types, sources, tags, ids; no outputs. */
  cellInfos(): ICellInfo[] {
    const out: ICellInfo[] = [];
    const cells = this.panel.context.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      out.push({
        id: c.id,
        type: c.type,
        tags: (c.getMetadata('tags') as string[] | undefined) ?? [],
        source: c.sharedModel.getSource()
      });
    }
    return out;
  }

  /** A minimal nbformat 4 notebook of the current content (what `inspect` reads). */
  contentJSON(): Record<string, unknown> {
    const model = this.panel.context.model;
    const metadata: Record<string, unknown> = {};
    for (const key of ['kernelspec', 'language_info', 'jupytext']) {
      const v = model.getMetadata(key);
      if (v !== undefined) {
        metadata[key] = v;
      }
    }
    const cells = this.cellInfos().map(c => {
      const cell: Record<string, unknown> = {
        cell_type: c.type,
        id: c.id,
        metadata: c.tags.length ? { tags: [...c.tags] } : {},
        source: c.source
      };
      if (c.type === 'code') {
        cell.outputs = [];
        cell.execution_count = null;
      }
      return cell;
    });
    return { nbformat: 4, nbformat_minor: 5, metadata, cells };
  }

  /** Analyse again after `delay` ms without changes (typing resets the timer). */
  schedule(delay = this.options.debounceMs): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), delay);
  }

  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const version = this.tagsVersion;
    this.analysing = true;
    this.emit();
    try {
      const reply = await post<IInspectReply>(
        'inspect',
        { path: this.path, content: this.contentJSON() },
        abort.signal
      );
      if (abort.signal.aborted || this._disposed) {
        return;
      }
      this.reply = reply;
      if (reply.ok && reply.inspect) {
        this.lastParameters = reply.inspect.parameters;
      }
      this.replyTagsVersion = version;
      this.requestError = null;
      this.analysedAt = Date.now();
    } catch (error) {
      if (abort.signal.aborted || (error as Error).name === 'AbortError') {
        return;
      }
      this.requestError = (error as Error).message;
    }
    this.analysing = false;
    this.redecorate();
    this.emit();
  }

  /** Step names offered by the menu: the notebook's step tags, then the analysis' steps. */
  stepNames(): string[] {
    const names = stepNames(this.cellInfos());
    for (const s of this.reply?.inspect?.steps ?? []) {
      if (s.kind === 'step' && !names.includes(s.name)) {
        names.push(s.name);
      }
    }
    return names;
  }

  /** Each cell's role and step: the server's when it analysed the current tags, else the
   * tags' own reading. */
  plans(): ICellPlan[] {
    const local = planCells(this.cellInfos());
    const server = this.reply?.cells;
    if (!server || this.replyTagsVersion !== this.tagsVersion) {
      return local;
    }
    const byId = new Map(server.filter(p => p.id).map(p => [p.id!, p]));
    return local.map((p, i) => {
      const s = (p.id && byId.get(p.id)) || (!byId.size ? server[i] : undefined);
      return s
        ? { ...p, role: (s.role as Role | null) ?? null, step: s.step, after: s.after }
        : p;
    });
  }

  redecorate(): void {
    if (this._disposed) {
      return;
    }
    const steps = this.reply?.inspect?.steps ?? [];
    const order = steps.length
      ? steps.filter(s => s.kind === 'step').map(s => s.name)
      : stepNames(this.cellInfos());
    const gates = steps.filter(s => s.kind === 'gate').map(s => s.name);
    this.decorator.update(this.plans(), order, gates);
  }

  /** Replace the tags of cell `index` (0-based): badges at once, analysis soon. */
  setTags(index: number, tags: string[]): void {
    const cell = this.panel.context.model.cells.get(index);
    if (!cell) {
      return;
    }
    if (tags.length) {
      cell.setMetadata('tags', tags);
    } else {
      cell.deleteMetadata('tags');
    }
    this.tagsVersion++;
    this.redecorate();
    this.schedule(50);
  }

  private onContentChanged(): void {
    this.schedule();
  }

  private onCellsChanged(): void {
    this.connectCells();
    this.tagsVersion++;
    requestAnimationFrame(() => this.redecorate());
    this.schedule();
  }

  private connectCells(): void {
    const cells = this.panel.context.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (!this.connected.has(c)) {
        this.connected.add(c);
        c.metadataChanged.connect(this.onCellMetadata, this);
      }
    }
  }

  private onCellMetadata(_: ICellModel, change: { key: string }): void {
    if (change.key === 'tags') {
      this.tagsVersion++;
      this.redecorate();
      this.schedule(150);
    }
  }

  /** Select cell `n` (1-based, nb2pipe's numbering) and put the cursor on `line`. */
  selectCell(n: number, line?: number | null): void {
    const nb = this.panel.content;
    const i = n - 1;
    if (i < 0 || i >= nb.widgets.length) {
      return;
    }
    nb.deselectAll();
    nb.activeCellIndex = i;
    const cell = nb.widgets[i];
    void nb.scrollToCell(cell, 'center').catch(() => undefined);
    if (line && cell.editor) {
      const lineCount = cell.editor.lineCount;
      cell.editor.setCursorPosition({
        line: Math.max(0, Math.min(line - 1, lineCount - 1)),
        column: 0
      });
    }
    cell.node.classList.add('nb2pipe-flash');
    window.setTimeout(() => cell.node.classList.remove('nb2pipe-flash'), 1200);
  }

  // -- actions -------------------------------------------------------------------------

  convertState: IActionState<IConvertReply> | null = null;
  runState: IRunState | null = null;
  /** The values typed in the panel's parameter form, kept per notebook (not saved). */
  readonly paramState: IParamValues = { values: {}, unreadable: {} };
  private lastParameters: IParameter[] | null = null;

  /** The notebook's parameters: the live analysis', else the last it could read. */
  parameters(): IParameter[] | null {
    return this.reply?.inspect?.parameters ?? this.lastParameters;
  }

  /** The typed values that are not values of their parameter, by name. */
  paramProblems(): Record<string, string> {
    const params = this.parameters() ?? [];
    const names = new Set(params.map(p => p.name));
    const out = problems(params, this.paramState.values);
    for (const [name, why] of Object.entries(this.paramState.unreadable)) {
      if (names.has(name)) {
        out[name] = why;
      }
    }
    return out;
  }
  verifyState: IActionState<IVerifyStatus> | null = null;

  get output(): string | null {
    const meta = this.panel.context.model.getMetadata(METADATA_KEY) as
      | { output?: string }
      | undefined;
    return typeof meta?.output === 'string' && meta.output ? meta.output : null;
  }

  defaultOutput(): string {
    const stem = this.path.split('/').pop()!.replace(/\.[^.]+$/, '');
    let name = stem
      .toLowerCase()
      .replace(/\W+/g, '_')
      .replace(/^_+|_+$/g, '');
    if (!name) {
      name = 'pipeline';
    }
    if (/^[0-9]/.test(name)) {
      name = `nb_${name}`;
    }
    return `pipelines/${name}`;
  }

  /** Ask for the package folder (once per notebook: kept in its metadata). */
  async chooseOutput(force = false): Promise<string | null> {
    if (!force && this.output) {
      return this.output;
    }
    const answer = await InputDialog.getText({
      title: 'Pipeline package folder',
      label:
        'Folder to write the pipeline package to, relative to the notebook (kept in the notebook)',
      text: this.output ?? this.defaultOutput(),
      okLabel: 'Use this folder'
    });
    if (!answer.button.accept || !answer.value?.trim()) {
      return null;
    }
    const output = answer.value.trim().replace(/\/+$/, '');
    const model = this.panel.context.model;
    const meta = (model.getMetadata(METADATA_KEY) as object | undefined) ?? {};
    model.setMetadata(METADATA_KEY, { ...meta, output });
    this.emit();
    return output;
  }

  private async save(): Promise<boolean> {
    try {
      await this.panel.context.save();
      return true;
    } catch (error) {
      await showDialog({
        title: 'nb2pipe: cannot save the notebook',
        body: (error as Error).message,
        buttons: [Dialog.okButton()]
      });
      return false;
    }
  }

  async convert(): Promise<void> {
    if (this.convertState?.busy || this.runState?.busy) {
      return; // a running pipeline imports its steps lazily: never rewrite them under it
    }
    const output = await this.chooseOutput();
    if (!output || !(await this.save())) {
      return;
    }
    this.convertState = { busy: true, phase: 'converting', started: Date.now() };
    this.emit();
    try {
      const reply = await post<IConvertReply>('convert', { path: this.path, output });
      this.convertState = { busy: false, reply };
    } catch (error) {
      this.convertState = { busy: false, error: (error as Error).message };
    }
    this.emit();
  }

  async run(): Promise<void> {
    if (this.runState?.busy) {
      return;
    }
    const output = await this.chooseOutput();
    if (!output || !(await this.save())) {
      return;
    }
    const bad = Object.values(this.paramProblems());
    if (bad.length) {
      this.runState = { busy: false, error: bad[0] };
      this.emit();
      return;
    }
    const params = overrides(this.parameters() ?? [], this.paramState.values);
    this.runState = { busy: true, phase: 'starting', started: Date.now(), params };
    this.emit();
    let runId: string;
    try {
      const started = await post<IRunStarted>('run', { path: this.path, output, params });
      if (!started.ok || !started.run_id) {
        this.runState = { busy: false, params, error: started.error?.message ?? 'not started' };
        this.emit();
        return;
      }
      runId = started.run_id;
    } catch (error) {
      this.runState = { busy: false, params, error: (error as Error).message };
      this.emit();
      return;
    }
    this.runState = { ...this.runState, runId };
    const poll = async (): Promise<void> => {
      if (this._disposed) {
        return;
      }
      try {
        const status = await get<IRunStatus>('run', { path: this.path, id: runId });
        this.runState = {
          ...this.runState,
          busy: !status.done,
          phase: status.status,
          reply: status,
          error: undefined,
          cancelling: !status.done && !!this.runState?.cancelling
        };
      } catch (error) {
        const transient = error instanceof RequestError && error.status === 0;
        this.runState = {
          ...this.runState,
          busy: transient,
          error: (error as Error).message
        };
      }
      this.emit();
      if (this.runState?.busy) {
        this.pollTimers.push(window.setTimeout(() => void poll(), this.options.pollMs));
      }
    };
    await poll();
  }

  /** Stop the running run: the server interrupts it; the polling shows it interrupted. */
  async cancel(): Promise<void> {
    const state = this.runState;
    if (!state?.busy || !state.runId || state.cancelling) {
      return;
    }
    this.runState = { ...state, cancelling: true };
    this.emit();
    try {
      await post<{ ok: boolean; status: string }>('run/cancel', {
        path: this.path,
        id: state.runId
      });
    } catch (error) {
      if (this.runState?.runId === state.runId) {
        this.runState = {
          ...this.runState,
          cancelling: false,
          cancelError: (error as Error).message
        };
      }
    }
    this.emit();
  }

  async verify(): Promise<void> {
    if (this.verifyState?.busy || !(await this.save())) {
      return;
    }
    this.verifyState = { busy: true, phase: 'starting', started: Date.now() };
    this.emit();
    let job: string;
    try {
      job = (await post<{ ok: boolean; job: string }>('verify', { path: this.path })).job;
    } catch (error) {
      this.verifyState = { busy: false, error: (error as Error).message };
      this.emit();
      return;
    }
    const poll = async (): Promise<void> => {
      if (this._disposed) {
        return;
      }
      try {
        const status = await get<IVerifyStatus>('verify', { id: job });
        this.verifyState = {
          ...this.verifyState,
          busy: !status.done,
          phase: status.status,
          reply: status,
          error: undefined
        };
      } catch (error) {
        this.verifyState = { ...this.verifyState, busy: false, error: (error as Error).message };
      }
      this.emit();
      if (this.verifyState?.busy) {
        this.pollTimers.push(
          window.setTimeout(() => void poll(), Math.max(1000, this.options.pollMs))
        );
      }
    };
    await poll();
  }

  private emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _disposed = false;
  private timer = 0;
  private abort: AbortController | null = null;
  private pollTimers: number[] = [];
  private connected = new WeakSet<ICellModel>();
}
