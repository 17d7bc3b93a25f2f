import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// scripts/api-doc.js is plain Node (no types): the two names this test uses.
const { renderApiDoc, OUTPUT_PATH } = require('../../scripts/api-doc') as {
  renderApiDoc: () => string;
  OUTPUT_PATH: string;
};

const HTTP_METHODS = [ 'get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace' ];

describe('docs/api.md', () => {
  it('is what scripts/api-doc.js makes from docs/openapi.json and docs/api.template.md', () => {
    const committed = readFileSync(OUTPUT_PATH, 'utf8');
    // One assertion with a hint, not a diff of the whole page: the fix is always the same.
    assert.ok(committed === renderApiDoc(), 'docs/api.md is out of date: run `npm run docs:api` and commit the result');
  });

  it('documents every operation of docs/openapi.json', () => {
    const spec = JSON.parse(readFileSync(require.resolve('../../docs/openapi.json'), 'utf8'));
    const page = renderApiDoc();
    for (const [ path, item ] of Object.entries<Record<string, unknown>>(spec.paths)) {
      for (const method of Object.keys(item).filter(key => HTTP_METHODS.includes(key))) {
        assert.ok(page.includes(`### ${method.toUpperCase()} ${path}\n`), `${method.toUpperCase()} ${path} is missing from docs/api.md`);
      }
    }
  });
});
