import { describe, expect, it, vi } from 'vitest';

import type { IParameter } from '../api';
import { ParamsForm, type IParamValues } from '../paramsform';

function param(name: string, type: string, dflt: unknown, extra: Partial<IParameter> = {}) {
  return {
    name,
    type,
    optional: false,
    default: dflt,
    help: '',
    secret: false,
    env: null,
    cell: 3,
    ...extra
  } as IParameter;
}

const PARAMS = [
  param('n', 'int', 100, { help: 'trees' }),
  param('rate', 'float', 0.25),
  param('flag', 'bool', true),
  param('label', 'str', 'wine'),
  param('opts', 'dict', { a: 1 }),
  param('api_key', 'str', null, { secret: true, env: 'API_KEY' })
];

function setup() {
  const changed = vi.fn();
  const form = new ParamsForm(changed);
  document.body.append(form.node);
  const state: IParamValues = { values: {}, unreadable: {} };
  form.update(PARAMS, state);
  const input = (name: string) =>
    form.node.querySelector<HTMLInputElement>(`[data-param='${name}'] .nb2pipe-lab-param-input`)!;
  const type = (name: string, value: string) => {
    const el = input(name);
    el.value = value;
    el.dispatchEvent(new Event('input'));
  };
  return { form, state, input, type, changed };
}

describe('ParamsForm', () => {
  it('builds a typed input per parameter, defaults filled in, no secret input', () => {
    const { form, input } = setup();
    expect([...form.node.querySelectorAll('[data-param]')].map(e => e.getAttribute('data-param'))).toEqual(['n', 'rate', 'flag', 'label', 'opts']);
    expect([input('n').type, input('n').step, input('n').value]).toEqual(['number', '1', '100']);
    expect([input('rate').type, input('rate').step]).toEqual(['number', 'any']);
    expect([input('flag').type, input('flag').checked]).toEqual(['checkbox', true]);
    expect([input('label').type, input('label').value]).toEqual(['text', 'wine']);
    expect(input('opts').tagName).toBe('TEXTAREA');
    expect(input('opts').value).toBe('{"a":1}');
    expect(form.node.querySelector('[data-param=\'n\'] .nb2pipe-lab-param-help')!.textContent).toBe('trees');
    const secret = form.node.querySelector('.nb2pipe-lab-params-secret')!.textContent!;
    expect(secret).toContain('api_key ($API_KEY)');
    expect(form.node.querySelector("[name='api_key']")).toBeNull();
  });

  it('keeps the typed values, shows problems as typed, and counts the changes', () => {
    const { form, state, type, changed, input } = setup();
    type('n', '7');
    expect(state.values).toEqual({ n: '7' });
    expect(changed).toHaveBeenCalledTimes(1);
    type('opts', '[1]');
    const row = form.node.querySelector("[data-param='opts']")!;
    expect(row.classList.contains('nb2pipe-lab-param-bad')).toBe(true);
    expect(row.querySelector('.nb2pipe-lab-param-error')!.textContent).toContain('expects dict');
    expect(input('opts').getAttribute('aria-invalid')).toBe('true');
    expect(form.node.querySelector('summary')!.textContent).toContain('2 changed, 1 to fix');
    expect(form.focusProblem()).toBe(true);
    expect(document.activeElement).toBe(input('opts'));
    type('opts', '{"b": 2}');
    expect(row.classList.contains('nb2pipe-lab-param-bad')).toBe(false);
    const flag = input('flag');
    flag.checked = false;
    flag.dispatchEvent(new Event('change'));
    expect(state.values).toEqual({ n: '7', opts: '{"b": 2}', flag: 'false' });
    type('n', '100'); // back to the default: no longer an override
    expect(state.values).not.toHaveProperty('n');
  });

  it('is rebuilt only when the parameters change, keeping the typed values', () => {
    const { form, state, type, input } = setup();
    type('label', 'red');
    const el = input('label');
    form.update(JSON.parse(JSON.stringify(PARAMS)), state); // a new analysis, same parameters
    expect(input('label')).toBe(el);
    form.update([...PARAMS, param('extra', 'int', 1)], state);
    expect(input('label')).not.toBe(el);
    expect(input('label').value).toBe('red');
    expect(input('extra').value).toBe('1');
  });

  it('resets to the defaults and hides itself without parameters', () => {
    const { form, state, type, input, changed } = setup();
    type('n', '5');
    (form.node.querySelector('.nb2pipe-lab-params-reset') as HTMLButtonElement).click();
    expect(state.values).toEqual({});
    expect(input('n').value).toBe('100');
    expect(changed).toHaveBeenCalledTimes(2);
    form.update([], state);
    expect(form.node.hidden).toBe(true);
  });

  it('shows a number input the browser cannot read as a problem', () => {
    const { form, state, input } = setup();
    const el = input('rate');
    Object.defineProperty(el, 'validity', { value: { badInput: true } });
    el.value = '';
    el.dispatchEvent(new Event('input'));
    expect(state.unreadable.rate).toContain('not a number');
    expect(form.node.querySelector("[data-param='rate']")!.classList.contains('nb2pipe-lab-param-bad')).toBe(true);
  });
});
