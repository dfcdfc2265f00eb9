/**
 * The DAG drawing in the panel, readable at any width: fitted to the width by default (never
 * enlarged past its natural size), zoomed in and out by the buttons above it (or Ctrl+wheel),
 * and scrollable in both directions (drag to pan) once larger than the panel.
 */
import { h, safeFragment } from './render';

export type Zoom = 'fit' | number;

export const STEP = 1.25;
export const MAX_SCALE = 4;

/** The scale at which a drawing `natural` pixels wide fits `available` pixels. */
export function fitScale(natural: number, available: number): number {
  if (!(natural > 0) || !(available > 0)) {
    return 1;
  }
  return Math.min(1, available / natural);
}

/** The zoom one step in (+1) or out (-1) from `zoom`; out of the fitted size is 'fit'. */
export function stepZoom(zoom: Zoom, direction: 1 | -1, fit: number): Zoom {
  const scale = zoom === 'fit' ? fit : zoom;
  const next = Math.round((direction > 0 ? scale * STEP : scale / STEP) * 1000) / 1000;
  if (next <= fit + 0.001) {
    return 'fit'; // smaller than the panel is no use
  }
  return Math.min(MAX_SCALE, next);
}

export function percent(scale: number): string {
  return `${Math.round(scale * 100)}%`;
}

export class DagZoom {
  /** `cls`: the class of the scrolling view (the drawing's styles hang on it). */
  constructor(cls: string, label: string) {
    this.view = h('div', { class: `nb2pipe-lab-zoom-view ${cls}`, 'aria-label': label });
    this.level = h('span', { class: 'nb2pipe-lab-zoom-level', title: 'Zoom' });
    this.extra = h('span', { class: 'nb2pipe-lab-zoom-extra' });
    const button = (cls: string, text: string, title: string, act: () => void) => {
      const b = h(
        'button',
        { class: `nb2pipe-lab-zoom-button ${cls}`, type: 'button', title, 'aria-label': title },
        text
      );
      b.addEventListener('click', act);
      return b;
    };
    this.tools = h(
      'div',
      { class: 'nb2pipe-lab-zoom-tools' },
      button('nb2pipe-lab-zoom-out', '−', 'Zoom out', () => this.step(-1)),
      this.level,
      button('nb2pipe-lab-zoom-in', '+', 'Zoom in', () => this.step(1)),
      button('nb2pipe-lab-zoom-fit', 'fit', 'Fit to the width (reset)', () => this.set('fit')),
      button('nb2pipe-lab-zoom-actual', '1:1', 'Actual size', () => this.set(1)),
      this.extra
    );
    this.node = h('div', { class: 'nb2pipe-lab-zoom' }, this.tools, this.view);
    this.view.addEventListener('wheel', e => this.onWheel(e), { passive: false });
    this.view.addEventListener('pointerdown', e => this.onPointerDown(e));
    this.view.addEventListener('scroll', () => {
      this.scroll = [this.view.scrollLeft, this.view.scrollTop];
    });
    this.render();
  }

  readonly node: HTMLElement;
  /** The scrolling view holding the drawing. */
  readonly view: HTMLElement;
  /** A slot at the end of the toolbar for the panel's own links. */
  readonly extra: HTMLElement;

  get zoom(): Zoom {
    return this._zoom;
  }

  /** The drawing's natural width (its SVG's width attribute), 0 without one. */
  naturalWidth(): number {
    return Number(this.svg()?.getAttribute('width')) || 0;
  }

  /** The scale shown now. `available` defaults to the view's width. */
  scale(available = this.view.clientWidth): number {
    return this._zoom === 'fit' ? fitScale(this.naturalWidth(), available) : this._zoom;
  }

  /** Show the drawing `html` (nb2pipe's DAG fragment), or nothing; the zoom is kept. */
  setHtml(html: string | null): void {
    if (html === this.html) {
      return;
    }
    this.html = html;
    this.view.replaceChildren();
    if (html) {
      this.view.append(safeFragment(html));
    }
    this.render();
  }

  set(zoom: Zoom): void {
    const [cx, cy] = this.centre();
    this._zoom = zoom;
    this.render();
    this.recentre(cx, cy);
  }

  step(direction: 1 | -1): void {
    this.set(stepZoom(this._zoom, direction, fitScale(this.naturalWidth(), this.view.clientWidth)));
  }

  /** Scroll back to where the user left the view (after the panel re-attached it). */
  restoreScroll(): void {
    [this.view.scrollLeft, this.view.scrollTop] = this.scroll;
  }

  private svg(): SVGSVGElement | null {
    return this.view.querySelector('svg.dag');
  }

  private render(): void {
    const svg = this.svg();
    const zoomed = this._zoom !== 'fit';
    this.view.classList.toggle('nb2pipe-lab-zoomed', zoomed);
    this.node.setAttribute('data-zoom', zoomed ? String(this._zoom) : 'fit');
    this.tools.hidden = !svg;
    if (svg) {
      const width = this.naturalWidth();
      const height = Number(svg.getAttribute('height')) || 0;
      if (zoomed && width && height) {
        const z = this._zoom as number;
        svg.style.width = `${width * z}px`;
        svg.style.height = `${height * z}px`;
        svg.style.maxWidth = 'none';
      } else {
        svg.style.width = '100%';
        svg.style.height = 'auto';
        svg.style.maxWidth = width ? `${width}px` : '100%';
      }
    }
    this.level.textContent = this._zoom === 'fit' ? 'fit' : percent(this._zoom);
  }

  /** The point at the middle of the view, as fractions of the drawing. */
  private centre(): [number, number] {
    const v = this.view;
    const fx = v.scrollWidth ? (v.scrollLeft + v.clientWidth / 2) / v.scrollWidth : 0.5;
    const fy = v.scrollHeight ? (v.scrollTop + v.clientHeight / 2) / v.scrollHeight : 0.5;
    return [fx, fy];
  }

  private recentre(fx: number, fy: number): void {
    const v = this.view;
    v.scrollLeft = Math.max(0, fx * v.scrollWidth - v.clientWidth / 2);
    v.scrollTop = Math.max(0, fy * v.scrollHeight - v.clientHeight / 2);
  }

  private onWheel(e: WheelEvent): void {
    if (!(e.ctrlKey || e.metaKey) || !this.svg()) {
      return; // a plain wheel scrolls
    }
    e.preventDefault();
    this.step(e.deltaY < 0 ? 1 : -1);
  }

  private onPointerDown(e: PointerEvent): void {
    if (this._zoom === 'fit' || e.button !== 0) {
      return;
    }
    const v = this.view;
    const start = [e.clientX, e.clientY, v.scrollLeft, v.scrollTop];
    const move = (m: PointerEvent) => {
      v.scrollLeft = start[2] - (m.clientX - start[0]);
      v.scrollTop = start[3] - (m.clientY - start[1]);
    };
    const up = () => {
      v.classList.remove('nb2pipe-lab-panning');
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    v.classList.add('nb2pipe-lab-panning');
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  private _zoom: Zoom = 'fit';
  private html: string | null | undefined = undefined;
  private scroll: [number, number] = [0, 0];
  private level: HTMLElement;
  private tools: HTMLElement;
}
