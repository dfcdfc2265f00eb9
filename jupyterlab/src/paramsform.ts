/**
 * The panel's "Run with parameters" form: one typed input per parameter of the notebook's
 * parameters cell (bool: a checkbox; int, float: a number input; list, tuple, dict: JSON
 * text; str and the rest: text), its default filled in, its help below it, its problem
 * shown as it is typed. Secrets are listed by name and environment variable, with no input.
 *
 * The form's element stays in the panel while the panel redraws around it (typing never
 * loses focus); it is rebuilt only when the parameters themselves change. The values live
 * in the object given to `update` (the notebook's controller keeps one per notebook).
 */
import type { IParameter } from './api';
import { defaultText, editable, inputKind, problem } from './params';
import { h } from './render';

export interface IParamValues {
  /** Text typed per parameter name (absent: the default). */
  values: Record<string, string>;
  /** A number input the browser cannot read (`validity.badInput`), by parameter name. */
  unreadable: Record<string, string>;
}

export class ParamsForm {
  constructor(private onChange: () => void) {
    this.node = h('details', { class: 'nb2pipe-lab-params-form' });
    this.summary = h('summary', {}, 'Run with parameters');
    this.body = h('div', { class: 'nb2pipe-lab-params-body' });
    this.node.append(this.summary, this.body);
  }

  readonly node: HTMLElement;

  /** Show `params` (null: none known yet) editing `state`. */
  update(params: readonly IParameter[] | null, state: IParamValues): void {
    const key = JSON.stringify(params ?? null);
    if (key === this.key && state === this.state) {
      return;
    }
    this.key = key;
    this.state = state;
    this.params = params ?? [];
    this.node.hidden = !this.params.length;
    this.body.replaceChildren();
    for (const p of editable(this.params)) {
      this.body.append(this.row(p, state));
    }
    const secrets = this.params.filter(p => p.secret);
    if (secrets.length) {
      this.body.append(
        h(
          'p',
          { class: 'nb2pipe-lab-muted nb2pipe-lab-params-secret' },
          'From the environment (never sent): ',
          secrets.map(p => `${p.name} ($${p.env ?? '?'})`).join(', ')
        )
      );
    }
    const reset = h(
      'button',
      { class: 'nb2pipe-lab-link nb2pipe-lab-params-reset', type: 'button' },
      'reset to the defaults'
    );
    reset.addEventListener('click', () => {
      for (const name of Object.keys(state.values)) {
        delete state.values[name];
      }
      for (const name of Object.keys(state.unreadable)) {
        delete state.unreadable[name];
      }
      this.key = null; // rebuild with the defaults
      this.update(params, state);
      this.onChange();
    });
    this.body.append(h('div', { class: 'nb2pipe-lab-params-tools' }, reset));
    this.refreshSummary();
  }

  private row(p: IParameter, state: IParamValues): HTMLElement {
    const id = `nb2pipe-param-${++ParamsForm.ids}`;
    const kind = inputKind(p);
    const text = state.values[p.name] ?? defaultText(p);
    let input: HTMLInputElement | HTMLTextAreaElement;
    if (kind === 'json') {
      input = h('textarea', { rows: '2', spellcheck: 'false' }) as HTMLTextAreaElement;
      input.value = text;
    } else {
      input = h('input', {}) as HTMLInputElement;
      if (kind === 'checkbox') {
        input.type = 'checkbox';
        input.checked = text === 'true';
      } else if (kind === 'int' || kind === 'float') {
        input.type = 'number';
        input.step = kind === 'int' ? '1' : 'any';
        input.value = text;
      } else {
        input.type = 'text';
        input.value = text;
      }
    }
    input.id = id;
    input.name = p.name;
    input.classList.add('nb2pipe-lab-param-input');
    input.setAttribute('data-kind', kind);
    if (p.optional && kind !== 'checkbox') {
      input.setAttribute('placeholder', 'None');
    }
    const error = h('div', { class: 'nb2pipe-lab-param-error', 'aria-live': 'polite' });
    const row = h(
      'div',
      {
        class: `nb2pipe-lab-param${kind === 'checkbox' ? ' nb2pipe-lab-param-check' : ''}`,
        'data-param': p.name
      },
      h(
        'label',
        { for: id },
        h('code', {}, p.name),
        ' ',
        h('span', { class: 'nb2pipe-lab-param-type' }, p.type + (p.optional ? ' | None' : ''))
      ),
      input,
      p.help ? h('div', { class: 'nb2pipe-lab-param-help' }, p.help) : null,
      error
    );
    const check = () => {
      const value =
        input instanceof HTMLInputElement && input.type === 'checkbox'
          ? String(input.checked)
          : input.value;
      if (value === defaultText(p)) {
        delete state.values[p.name];
      } else {
        state.values[p.name] = value;
      }
      const unreadable = input instanceof HTMLInputElement && input.validity?.badInput;
      if (unreadable) {
        state.unreadable[p.name] = `parameter '${p.name}' expects ${p.type}: not a number`;
      } else {
        delete state.unreadable[p.name];
      }
      const why = state.unreadable[p.name] ?? problem(p, value);
      error.textContent = why ?? '';
      row.classList.toggle('nb2pipe-lab-param-bad', !!why);
      row.classList.toggle('nb2pipe-lab-param-changed', p.name in state.values);
      input.setAttribute('aria-invalid', why ? 'true' : 'false');
    };
    input.addEventListener(kind === 'checkbox' ? 'change' : 'input', () => {
      check();
      this.refreshSummary();
      this.onChange();
    });
    check();
    return row;
  }

  /** Focus the first parameter with a problem (true if there was one). */
  focusProblem(): boolean {
    const bad = this.body.querySelector<HTMLElement>(
      '.nb2pipe-lab-param-bad .nb2pipe-lab-param-input'
    );
    if (!bad) {
      return false;
    }
    (this.node as HTMLDetailsElement).open = true;
    bad.focus();
    return true;
  }

  private refreshSummary(): void {
    const state = this.state;
    const changed = state ? Object.keys(state.values).length : 0;
    const bad = this.body.querySelectorAll('.nb2pipe-lab-param-bad').length;
    const parts = [changed ? `${changed} changed` : 'defaults'];
    if (bad) {
      parts.push(`${bad} to fix`);
    }
    this.summary.replaceChildren(
      'Run with parameters ',
      h('span', { class: 'nb2pipe-lab-muted' }, `(${parts.join(', ')})`)
    );
    this.node.classList.toggle('nb2pipe-lab-params-bad', bad > 0);
  }

  private static ids = 0;
  private key: string | null = null;
  private state: IParamValues | null = null;
  private params: readonly IParameter[] = [];
  private summary: HTMLElement;
  private body: HTMLElement;
}
