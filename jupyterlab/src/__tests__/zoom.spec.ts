import { describe, expect, it } from 'vitest';

import { DagZoom, fitScale, MAX_SCALE, percent, stepZoom } from '../zoom';

const DRAWING =
  '<div class="nb2pipe"><div class="dag-wrap"><svg class="dag" width="1000" height="400" ' +
  'viewBox="0 0 1000 400"><g class="node" data-step="a"></g></svg></div></div>';

function view(zoom: DagZoom, width: number): void {
  Object.defineProperty(zoom.view, 'clientWidth', { value: width, configurable: true });
}

describe('zoom arithmetic', () => {
  it('fits the width, never enlarging', () => {
    expect(fitScale(1000, 250)).toBe(0.25);
    expect(fitScale(200, 250)).toBe(1);
    expect(fitScale(0, 250)).toBe(1);
  });

  it('steps in from the fitted size and back out to it', () => {
    expect(stepZoom('fit', 1, 0.25)).toBe(0.313);
    expect(stepZoom(0.313, -1, 0.25)).toBe('fit');
    expect(stepZoom('fit', -1, 0.25)).toBe('fit');
    expect(stepZoom(1, 1, 0.25)).toBe(1.25);
    expect(stepZoom(MAX_SCALE, 1, 0.25)).toBe(MAX_SCALE);
    expect(percent(0.313)).toBe('31%');
  });
});

describe('DagZoom', () => {
  it('fits the drawing to the width by default', () => {
    const zoom = new DagZoom('nb2pipe-lab-dag', 'DAG');
    zoom.setHtml(DRAWING);
    view(zoom, 250);
    const svg = zoom.view.querySelector('svg')!;
    expect(zoom.zoom).toBe('fit');
    expect([svg.style.width, svg.style.height, svg.style.maxWidth]).toEqual(['100%', 'auto', '1000px']);
    expect(zoom.scale()).toBe(0.25);
    expect(zoom.view.classList.contains('nb2pipe-lab-zoomed')).toBe(false);
    expect(zoom.node.querySelector('.nb2pipe-lab-zoom-level')!.textContent).toBe('fit');
  });

  it('zooms with its buttons, scrollable when zoomed, and resets', () => {
    const zoom = new DagZoom('nb2pipe-lab-dag', 'DAG');
    zoom.setHtml(DRAWING);
    view(zoom, 250);
    const click = (cls: string) => (zoom.node.querySelector(`.${cls}`) as HTMLButtonElement).click();
    click('nb2pipe-lab-zoom-in');
    click('nb2pipe-lab-zoom-in');
    const svg = zoom.view.querySelector('svg')!;
    expect(zoom.zoom).toBe(0.391);
    expect([svg.style.width, svg.style.height, svg.style.maxWidth]).toEqual(['391px', '156.4px', 'none']);
    expect(zoom.view.classList.contains('nb2pipe-lab-zoomed')).toBe(true);
    expect(zoom.node.getAttribute('data-zoom')).toBe('0.391');
    expect(zoom.node.querySelector('.nb2pipe-lab-zoom-level')!.textContent).toBe('39%');
    click('nb2pipe-lab-zoom-actual');
    expect(svg.style.width).toBe('1000px');
    click('nb2pipe-lab-zoom-out');
    expect(zoom.zoom).toBe(0.8);
    click('nb2pipe-lab-zoom-fit');
    expect(zoom.zoom).toBe('fit');
    expect(svg.style.width).toBe('100%');
  });

  it('keeps the zoom when the drawing changes, and Ctrl+wheel zooms', () => {
    const zoom = new DagZoom('nb2pipe-lab-dag', 'DAG');
    zoom.setHtml(DRAWING);
    view(zoom, 250);
    zoom.set(2);
    zoom.setHtml(DRAWING.replace('data-step="a"', 'data-step="b"'));
    expect(zoom.view.querySelector('svg')!.style.width).toBe('2000px');
    const wheel = new WheelEvent('wheel', { deltaY: -100, ctrlKey: true, cancelable: true });
    zoom.view.dispatchEvent(wheel);
    expect(zoom.zoom).toBe(2.5);
    expect(wheel.defaultPrevented).toBe(true);
    const plain = new WheelEvent('wheel', { deltaY: -100, cancelable: true });
    zoom.view.dispatchEvent(plain);
    expect(zoom.zoom).toBe(2.5);
    expect(plain.defaultPrevented).toBe(false);
  });

  it('makes the drawing inert and hides its tools without one', () => {
    const zoom = new DagZoom('nb2pipe-lab-dag', 'DAG');
    expect((zoom.node.querySelector('.nb2pipe-lab-zoom-tools') as HTMLElement).hidden).toBe(true);
    zoom.setHtml(DRAWING.replace('<g class="node"', '<g onclick="alert(1)" class="node"'));
    expect(zoom.view.querySelector('[onclick]')).toBeNull();
    expect((zoom.node.querySelector('.nb2pipe-lab-zoom-tools') as HTMLElement).hidden).toBe(false);
  });
});
