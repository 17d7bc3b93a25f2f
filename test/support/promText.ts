import assert from 'node:assert/strict';

/** A parsed Prometheus text exposition: every sample by `name{label="value",...}` (labels sorted), and each family's type. */
export interface PromText {
  samples: Map<string, number>;
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(?:,|$)/;

/**
 * Parses the text format strictly (version 0.0.4): HELP and TYPE lines, then samples of a declared
 * family (histograms' _bucket/_sum/_count), well-formed labels, numeric values; anything else fails.
 */
export function parsePromText(text: string): PromText {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3], /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.ok(!types.has(meta[2]), `family ${meta[2]} declared twice`);
        types.set(meta[2], meta[3]);
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment line: ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const [ , name, rawLabels = '', rawValue ] = m;
    const family = [ name, name.replace(/_(bucket|sum|count)$/, '') ].find(f => types.has(f));
    assert.ok(family, `sample ${name} has no TYPE line before it`);
    const labels: string[] = [];
    let rest = rawLabels;
    while (rest.length > 0) {
      const l = LABEL.exec(rest);
      assert.ok(l, `bad labels in ${line}`);
      labels.push(`${l[1]}="${l[2]}"`);
      rest = rest.slice(l[0].length);
    }
    // prom-client writes NaN as "Nan"; Prometheus reads floats with Go's ParseFloat, which takes any case.
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    assert.ok(/^nan$/i.test(rawValue) || !Number.isNaN(value), `bad value in ${line}`);
    const key = labels.length ? `${name}{${labels.sort().join(',')}}` : name;
    assert.ok(!samples.has(key), `sample ${key} appears twice`);
    samples.set(key, value);
  }
  return { samples, types };
}

/** A sample's value, 0 when absent (a counter never incremented has no sample). */
export function sample(parsed: PromText, key: string): number {
  return parsed.samples.get(key) ?? 0;
}
