/**
 * Step badges and coloured borders on a notebook's code cells.
 */
import type { Cell } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { badgeFor, type IBadge, type ICellPlan } from './tags';

const CELL_CLASS = 'nb2pipe-cell';
const ROW_CLASS = 'nb2pipe-badge-row';

export class CellDecorator {
  constructor(
    private panel: NotebookPanel,
    private onBadgeClick: (cell: Cell, anchor: HTMLElement) => void
  ) {}

  /** Badge every cell from `plans` (by cell id, else by position). */
  update(
    plans: readonly ICellPlan[],
    order: readonly string[],
    gates: readonly string[]
  ): void {
    const byId = new Map<string, ICellPlan>();
    for (const p of plans) {
      if (p.id) {
        byId.set(p.id, p);
      }
    }
    this.panel.content.widgets.forEach((cell, i) => {
      const plan = byId.get(cell.model.id) ?? plans[i];
      const badge =
        cell.model.type === 'code' && plan ? badgeFor(plan, order, gates) : null;
      this.apply(cell, badge, i + 1);
    });
  }

  clear(): void {
    this.panel.content.widgets.forEach((cell, i) => this.apply(cell, null, i + 1));
  }

  private apply(cell: Cell, badge: IBadge | null, index: number): void {
    const node = cell.node;
    this.latest.set(cell, { badge, index });
    let row = node.querySelector<HTMLElement>(`.${ROW_CLASS}`);
    if (!badge) {
      node.classList.remove(CELL_CLASS);
      node.style.removeProperty('--nb2pipe-colour');
      delete node.dataset.nb2pipeStep;
      delete node.dataset.nb2pipeKind;
      row?.remove();
      return;
    }
    node.classList.add(CELL_CLASS);
    node.style.setProperty('--nb2pipe-colour', badge.colour);
    node.dataset.nb2pipeStep = badge.text;
    node.dataset.nb2pipeKind = badge.kind;
    const header = node.querySelector<HTMLElement>(':scope > .jp-CellHeader');
    if (!header) {
      // A cell of a windowed notebook not rendered yet: badge it once it is.
      if (!this.waiting.has(cell)) {
        this.waiting.add(cell);
        void cell.ready.then(() => {
          this.waiting.delete(cell);
          const last = this.latest.get(cell);
          if (last && !cell.isDisposed) {
            this.apply(cell, last.badge, last.index);
          }
        });
      }
      return;
    }
    if (!row) {
      row = document.createElement('div');
      row.className = ROW_CLASS;
      const pill = document.createElement('button');
      pill.type = 'button';
      pill.className = 'nb2pipe-badge';
      pill.addEventListener('mousedown', e => e.stopPropagation());
      pill.addEventListener('click', e => {
        e.preventDefault();
        e.stopPropagation();
        this.onBadgeClick(cell, pill);
      });
      row.append(pill);
    }
    if (row.parentElement !== header) {
      header.append(row);
    }
    const pill = row.querySelector<HTMLElement>('.nb2pipe-badge')!;
    if (pill.textContent !== badge.text) {
      pill.textContent = badge.text;
    }
    pill.title = `cell ${index}: ${badge.title} (click to change its nb2pipe tags)`;
    pill.dataset.kind = badge.kind;
  }

  private latest = new WeakMap<Cell, { badge: IBadge | null; index: number }>();
  private waiting = new WeakSet<Cell>();
}
