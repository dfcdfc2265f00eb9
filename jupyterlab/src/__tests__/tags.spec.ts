import { describe, expect, it } from 'vitest';

import {
  badgeFor,
  clearTags,
  directiveWords,
  identifier,
  nameProblem,
  parseTags,
  planCells,
  setRole,
  stepColour,
  stepNames,
  suggestName,
  toggleAfter,
  type ICellInfo
} from '../tags';

const code = (tags: string[] = [], source = 'x = 1'): ICellInfo => ({
  type: 'code',
  tags,
  source
});
const md = (source: string): ICellInfo => ({ type: 'markdown', tags: [], source });

describe('parseTags', () => {
  it('reads roles, steps and after: tags, with the Kale aliases', () => {
    expect(parseTags(['block:load-data'])).toMatchObject({
      role: 'step',
      step: 'load_data',
      after: [],
      foreign: [],
      error: null
    });
    expect(parseTags(['pipeline-parameters']).role).toBe('parameters');
    expect(parseTags(['pipeline-metrics']).role).toBe('metrics');
    expect(parseTags(['prev:split', 'after:load']).after).toEqual(['split', 'load']);
    expect(parseTags(['hide-input', 'skip'])).toMatchObject({
      role: 'skip',
      foreign: ['hide-input']
    });
  });

  it('reads a first-line #| nb2pipe: directive like tags', () => {
    const source = '#| nb2pipe: step:train after:split\nmodel.fit(X, y)';
    expect(directiveWords(source)).toEqual(['step:train', 'after:split']);
    expect(parseTags([], source)).toMatchObject({ role: 'step', step: 'train', after: ['split'] });
    expect(directiveWords('x = 1\n#| nb2pipe: skip')).toEqual([]);
  });

  it('a cell with a role and a step tag has the role and starts the step', () => {
    expect(parseTags(['metrics', 'step:a'])).toMatchObject({ role: 'metrics', step: 'a' });
    expect(parseTags(['step:a', 'metrics'])).toMatchObject({ role: 'metrics', step: 'a' });
    // (role, step) per cell as nb2pipe.compiler.tags.assign gives them (its 'step' role of
    // a cell continuing a step is null here: the badge says "part of step")
    const plans = planCells([
      code(['step:load']),
      code(['metrics', 'step:train']),
      code(),
      code(['skip', 'step:end']),
      code(),
      code(['validate', 'step:fin']),
      code()
    ]);
    expect(plans.map(p => [p.role, p.step])).toEqual([
      ['step', 'load'],
      ['metrics', 'train'],
      [null, 'train'],
      ['skip', null],
      [null, 'end'],
      ['validate', 'check_fin'],
      [null, 'fin']
    ]);
  });
});

describe('writing tags', () => {
  it('setRole replaces the role and keeps after:, model: and other tools tags', () => {
    const tags = ['skip', 'after:load', 'model:wine', 'hide-input'];
    expect(setRole(tags, 'step', 'train')).toEqual([
      'step:train',
      'after:load',
      'model:wine',
      'hide-input'
    ]);
    expect(setRole(['step:train', 'pipeline-parameters'], 'parameters')).toEqual(['parameters']);
    expect(setRole(['block:x', 'after:y'], null)).toEqual(['after:y']);
  });

  it('setRole normalises - to _ and refuses invalid step names', () => {
    expect(setRole([], 'step', 'train-model')).toEqual(['step:train_model']);
    expect(() => setRole([], 'step', 'class')).toThrow();
    expect(() => setRole([], 'step', '2fast')).toThrow();
    expect(() => setRole([], 'step', '')).toThrow();
  });

  it('toggleAfter adds and removes, treating prev: as after:', () => {
    expect(toggleAfter(['step:b'], 'a')).toEqual(['step:b', 'after:a']);
    expect(toggleAfter(['step:b', 'after:a'], 'a')).toEqual(['step:b']);
    expect(toggleAfter(['prev:a'], 'a')).toEqual([]);
  });

  it('clearTags removes every nb2pipe word only', () => {
    expect(clearTags(['step:a', 'after:b', 'skip', 'model:m', 'remove-cell'])).toEqual([
      'model:m',
      'remove-cell'
    ]);
  });
});

describe('names', () => {
  it('nameProblem mirrors nb2pipe.compiler.tags.step_name', () => {
    expect(nameProblem('train')).toBeNull();
    expect(nameProblem('train-model')).toBeNull();
    expect(nameProblem('')).toMatch(/empty/);
    expect(nameProblem('lambda')).toMatch(/keyword/);
    expect(nameProblem('__init__')).toMatch(/dunder/);
    expect(nameProblem('a b')).toMatch(/identifier/);
    expect(nameProblem('x'.repeat(81))).toMatch(/longer/);
  });

  it('identifier gives what nb2pipe.compiler.tags.identifier gives', () => {
    // expected values printed by the Python function
    const cases: Record<string, string> = {
      'Train the model!': 'train_the_model',
      'Split and scale': 'split_and_scale',
      '2nd pass': 'step_2nd_pass',
      class: 'step_class',
      'Évaluer les modèles': 'evaluer_les_modeles',
      '   ': 'step',
      'Load the data': 'load_the_data'
    };
    for (const [text, name] of Object.entries(cases)) {
      expect(identifier(text)).toBe(name);
    }
  });

  it('suggestName takes the heading above and avoids taken names', () => {
    const cells = [md('# Title'), md('## Load the data\n\ntext'), code(), code()];
    expect(suggestName(cells, 2, [])).toBe('load_the_data');
    expect(suggestName(cells, 2, ['load_the_data'])).toBe('load_the_data_2');
    expect(suggestName(cells, 3, [])).toBe('step_4'); // a code cell above: no heading
  });
});

describe('planCells', () => {
  it('gives every code cell its step like the tag pass does', () => {
    const cells = [
      md('# Title'),
      code(['imports']),
      code(['parameters']),
      code(['step:load']),
      code(), // continues load
      code(['validate']),
      code(['skip']),
      code(['step:train']),
      code(['metrics']),
      md('text'),
      code() // continues train
    ];
    const plans = planCells(cells);
    expect(plans.map(p => [p.index, p.role, p.step])).toEqual([
      [1, null, null],
      [2, 'imports', null],
      [3, 'parameters', null],
      [4, 'step', 'load'],
      [5, null, 'load'],
      [6, 'validate', 'check_load'],
      [7, 'skip', null],
      [8, 'step', 'train'],
      [9, 'metrics', 'train'],
      [10, null, null],
      [11, null, 'train']
    ]);
    expect(stepNames(cells)).toEqual(['load', 'train']);
  });
});

describe('badges', () => {
  const order = ['load', 'train'];

  it('say the step, or the role, with a stable colour per step', () => {
    const plan = { index: 4, role: 'step' as const, step: 'train', after: [] };
    const badge = badgeFor(plan, order)!;
    expect(badge.text).toBe('train');
    expect(badge.kind).toBe('step');
    expect(badge.colour).toBe(stepColour('train', order));
    expect(stepColour('train', order)).not.toBe(stepColour('load', order));
    expect(badgeFor({ ...plan, role: null }, order)!.title).toMatch(/part of step train/);
    expect(badgeFor({ ...plan, role: 'metrics' }, order)!.text).toBe('train · metrics');
    expect(badgeFor({ ...plan, role: 'skip', step: null }, order)!.kind).toBe('skip');
    expect(badgeFor({ ...plan, role: 'parameters', step: null }, order)!.text).toBe('parameters');
    expect(badgeFor({ ...plan, role: 'validate', step: 'check_train' }, order)!.text).toBe(
      'gate check_train'
    );
    // a gate known from the server's analysis (a cell continuing it)
    expect(badgeFor({ ...plan, role: null, step: 'check_x' }, order, ['check_x'])!.kind).toBe(
      'gate'
    );
    expect(badgeFor({ ...plan, role: null, step: null }, order)).toBeNull();
  });

  it('colours a step outside the order by its name, always the same', () => {
    expect(stepColour('zeta', [])).toBe(stepColour('zeta', []));
  });
});
