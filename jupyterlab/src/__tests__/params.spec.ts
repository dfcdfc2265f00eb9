import { describe, expect, it } from 'vitest';

import type { IParameter } from '../api';
import {
  defaultText,
  editable,
  inputKind,
  overrides,
  problem,
  problems,
  wireText
} from '../params';

function param(
  name: string,
  type: string,
  dflt: unknown,
  extra: Partial<IParameter> = {}
): IParameter {
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
  };
}

const n = param('n', 'int', 100);
const rate = param('rate', 'float', 0.25);
const flag = param('flag', 'bool', true);
const label = param('label', 'str', 'wine');
const items = param('items', 'list', [1, 2]);
const pair = param('pair', 'tuple', [1, 2]);
const opts = param('opts', 'dict', { a: 1 });
const depth = param('depth', 'int', null, { optional: true });
const anything = param('anything', 'Any', null, { optional: true });
const key = param('api_key', 'str', null, { secret: true, env: 'API_KEY' });
const ALL = [n, rate, flag, label, items, pair, opts, depth, anything, key];

describe('inputs', () => {
  it('gives each type its input', () => {
    expect(ALL.map(p => [p.name, inputKind(p)])).toEqual([
      ['n', 'int'],
      ['rate', 'float'],
      ['flag', 'checkbox'],
      ['label', 'text'],
      ['items', 'json'],
      ['pair', 'json'],
      ['opts', 'json'],
      ['depth', 'int'],
      ['anything', 'text'],
      ['api_key', 'text']
    ]);
  });

  it('never offers a secret', () => {
    expect(editable(ALL).map(p => p.name)).not.toContain('api_key');
    expect(editable(ALL)).toHaveLength(ALL.length - 1);
  });

  it('shows defaults as the text -p takes', () => {
    expect(defaultText(n)).toBe('100');
    expect(defaultText(rate)).toBe('0.25');
    expect(defaultText(flag)).toBe('true');
    expect(defaultText(label)).toBe('wine');
    expect(defaultText(items)).toBe('[1,2]');
    expect(defaultText(opts)).toBe('{"a":1}');
    expect(defaultText(depth)).toBe('');
  });
});

describe('validation, as nb2pipe run -p', () => {
  it.each([
    [n, '7', null],
    [n, ' -3 ', null],
    [n, '1_000', null],
    [n, '7.5', "parameter 'n' expects int, got '7.5'"],
    [n, 'seven', "parameter 'n' expects int, got 'seven'"],
    [n, '', "parameter 'n' needs a value (int)"],
    [depth, '', null],
    [rate, '1e-3', null],
    [rate, '.5', null],
    [rate, '-inf', null],
    [rate, 'nan', null],
    [rate, '1.2.3', "parameter 'rate' expects float, got '1.2.3'"],
    [flag, 'false', null],
    [flag, 'maybe', "parameter 'flag' expects true or false, got 'maybe'"],
    [items, '[3, "a"]', null],
    [items, '{"a": 1}', 'parameter \'items\' expects list (JSON array), got \'{"a": 1}\''],
    [items, '[1,', "parameter 'items' expects list (JSON), got '[1,'"],
    [pair, '[1, 2]', null],
    [opts, '{"b": [2]}', null],
    [opts, '[1]', "parameter 'opts' expects dict (JSON object), got '[1]'"],
    [opts, 'null', "parameter 'opts' expects dict (JSON object), got 'null'"],
    [label, '', null],
    [anything, 'whatever: [1]', null]
  ])('%o %j', (p, text, why) => {
    expect(problem(p as IParameter, text as string)).toBe(why);
  });

  it('collects the problems by name, secrets left out', () => {
    expect(problems(ALL, { n: 'x', rate: '0.5', api_key: '' })).toEqual({
      n: "parameter 'n' expects int, got 'x'"
    });
  });
});

describe('overrides', () => {
  it('sends only what differs from the defaults, never a secret', () => {
    const values = {
      n: '100',
      rate: '0.5',
      flag: 'false',
      depth: '',
      api_key: 'leaked',
      gone: '1'
    };
    expect(overrides(ALL, values)).toEqual({ rate: '0.5', flag: 'false' });
  });

  it('sends an emptied optional value as None', () => {
    const withDefault = param('depth', 'int', 5, { optional: true });
    expect(wireText(withDefault, ' ')).toBe('null');
    expect(overrides([withDefault], { depth: '' })).toEqual({ depth: 'null' });
    expect(wireText(label, '')).toBe(''); // an empty string is a string
  });
});
