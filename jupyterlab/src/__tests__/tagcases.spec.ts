/**
 * The shared table of tag cases (tests/data/tag_cases.json) through the Lab's tag parser:
 * nb2pipe's compiler runs the same table (tests/compiler/test_tag_cases.py), so the Lab
 * reads a cell's tags, and words its errors, as the compiler does.
 */
import { describe, expect, it } from 'vitest';

import table from '../../../tests/data/tag_cases.json';
import { parseTags } from '../tags';

interface ICase {
  why: string;
  tags: string[];
  source?: string;
  [field: string]: unknown;
}

const INPUT = new Set(['why', 'tags', 'source']);
const cases = (table as { cases: ICase[] }).cases;

/** A cell's parse as the table writes it (empty fields left out), or its error. */
function parse(tags: string[], source: string): Record<string, unknown> {
  const p = parseTags(tags, source);
  if (p.error) {
    return { error: p.error.message, hint: p.error.hint };
  }
  const { role, roles, step, after, models, foreign, unknown } = p;
  const got: Record<string, unknown> = { role, roles, step, after, models, foreign, unknown };
  return Object.fromEntries(
    Object.entries(got).filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
  );
}

describe('the shared tag cases', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(100);
  });

  it.each(cases.map(c => [JSON.stringify(c.tags) + (c.source ? ` | ${c.source}` : ''), c]))(
    '%s',
    (_, c) => {
      const expected = Object.fromEntries(Object.entries(c).filter(([k]) => !INPUT.has(k)));
      expect(parse(c.tags, c.source ?? 'x = 1'), c.why).toEqual(expected);
    }
  );
});
