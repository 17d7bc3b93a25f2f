#!/usr/bin/env node
'use strict';
// `npm run docs:api`: writes docs/api.md from docs/api.template.md (the hand-written part) and
// docs/openapi.json (every operation, its parameters, request body, responses and types).
// `--check` writes nothing and exits 1 when docs/api.md differs. test/docs/apiDoc.test.ts runs
// the same check, so the page cannot drift from the description.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const SPEC_PATH = path.join(root, 'docs', 'openapi.json');
const TEMPLATE_PATH = path.join(root, 'docs', 'api.template.md');
const OUTPUT_PATH = path.join(root, 'docs', 'api.md');
/** The line of the template that the generated reference replaces. */
const MARKER = '<!-- operations -->';
const METHODS = [ 'get', 'put', 'post', 'patch', 'delete' ];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

/** Text safe inside a Markdown table cell. */
function cell(text) {
  return String(text ?? '').replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function refName(ref) {
  return ref.split('/').pop();
}

/** Follows `#/components/<kind>/<name>` references to what they name. */
function resolve(spec, node) {
  while (node && node.$ref) {
    const [ , , kind, name ] = node.$ref.split('/');
    node = spec.components[kind][name];
  }
  return node;
}

/** A schema in a few words: `string`, `integer`, `Order`, `Refund[]`, `"ok" or "degraded"`. */
function typeOf(schema) {
  if (!schema) return '';
  if (schema.$ref) {
    const name = refName(schema.$ref);
    return `[${name}](#${slug(name)})`;
  }
  if (schema.enum) return schema.enum.map(v => (v === null ? 'null' : `\`${v}\``)).join(', ');
  if (schema.oneOf) return schema.oneOf.map(typeOf).join(' or ');
  const types = Array.isArray(schema.type) ? schema.type : [ schema.type || 'object' ];
  return types.map(t => (t === 'array' ? `${typeOf(schema.items)}[]` : t)).join(' or ');
}

/** Limits a schema puts on a value: range, length, count, pattern, format. */
function rules(schema) {
  if (!schema || schema.$ref) return '';
  const out = [];
  const range = (min, max, unit) => {
    if (min !== undefined && max !== undefined) out.push(`${min}–${max}${unit}`);
    else if (min !== undefined) out.push(`≥ ${min}${unit}`);
    else if (max !== undefined) out.push(`≤ ${max}${unit}`);
  };
  range(schema.minimum, schema.maximum, '');
  range(schema.minLength, schema.maxLength, ' chars');
  range(schema.minItems, schema.maxItems, ' items');
  if (schema.format) out.push(schema.format);
  if (schema.pattern) out.push(`\`${schema.pattern}\``);
  return out.join(', ');
}

/** Rows for an object schema's fields; nested objects' fields follow as `parent.child`. */
function fieldRows(schema, prefix = '') {
  const required = new Set(schema.required || []);
  const rows = [];
  for (const [ name, prop ] of Object.entries(schema.properties)) {
    rows.push(`| \`${prefix}${name}\` | ${cell(typeOf(prop))} | ${required.has(name) ? 'yes' : 'no'} | ${cell(rules(prop))} | ${cell(prop.description)} |`);
    if (prop.properties) rows.push(...fieldRows(prop, `${prefix}${name}.`));
  }
  return rows;
}

/** A table of an object schema's fields. */
function fieldTable(schema) {
  return [ '| field | type | required | rules | description |', '|---|---|---|---|---|', ...fieldRows(schema) ].join('\n');
}

function schemaOfContent(content) {
  if (!content) return { mediaType: '', schema: undefined };
  const [ mediaType, media ] = Object.entries(content)[0];
  return { mediaType, schema: media.schema };
}

function operationSection(spec, method, urlPath, op) {
  const out = [ `### ${method.toUpperCase()} ${urlPath}`, '', `${op.summary}.`, '' ];
  if (op.description) out.push(op.description, '');
  const security = (op.security || []).flatMap(Object.keys);
  const auth = security.map(name => `\`${name}\`: ${spec.components.securitySchemes[name].description}`);
  out.push(`**Auth:** ${auth.length ? auth.join(' ') : 'none.'}`, '');

  const params = (op.parameters || []).map(p => resolve(spec, p));
  if (params.length) {
    out.push('**Parameters**', '', '| name | in | required | type | rules | description |', '|---|---|---|---|---|---|');
    for (const p of params) {
      const schema = resolve(spec, p.schema);
      out.push(`| \`${p.name}\` | ${p.in} | ${p.required ? 'yes' : 'no'} | ${cell(typeOf(schema))} | ${cell(rules(schema))} | ${cell(p.description)} |`);
    }
    out.push('');
  }

  if (op.requestBody) {
    const { mediaType, schema } = schemaOfContent(op.requestBody.content);
    const body = resolve(spec, schema);
    const name = schema && schema.$ref ? ` ([${refName(schema.$ref)}](#${slug(refName(schema.$ref))}))` : '';
    out.push(`**Request body** (\`${mediaType}\`${op.requestBody.required ? ', required' : ''})${name}`, '');
    if (body.description) out.push(body.description, '');
    if (body.oneOf) {
      body.oneOf.forEach((alt, i) => {
        const resolved = resolve(spec, alt);
        out.push(`Form ${i + 1}${alt.$ref ? ` (${refName(alt.$ref)})` : ''}:`, '', fieldTable(resolved), '');
      });
    } else if (body.properties) {
      out.push(fieldTable(body), '');
    } else {
      out.push(`Schema: ${typeOf(body)}.`, '');
    }
  }

  out.push('**Responses**', '', '| status | body | meaning |', '|---|---|---|');
  for (const [ status, raw ] of Object.entries(op.responses)) {
    const response = resolve(spec, raw);
    const { mediaType, schema } = schemaOfContent(response.content);
    const body = schema ? `${typeOf(schema)} (\`${mediaType}\`)` : '—';
    let meaning = response.description;
    if (response.headers) meaning += ` Headers: ${Object.keys(response.headers).map(h => `\`${h}\``).join(', ')}.`;
    out.push(`| ${status} | ${cell(body)} | ${cell(meaning)} |`);
  }
  out.push('');
  return out.join('\n');
}

/** The generated reference: an index, the operations by tag, then the types. */
function renderReference(spec) {
  const ops = [];
  for (const [ urlPath, item ] of Object.entries(spec.paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ method, urlPath, op: item[method] });
  }
  const tags = (spec.tags || []).map(t => t.name);
  const tagOf = o => (o.op.tags && o.op.tags[0]) || 'other';
  for (const o of ops) if (!tags.includes(tagOf(o))) tags.push(tagOf(o));

  const out = [ '## Endpoints', '', '| method | path | auth | summary |', '|---|---|---|---|' ];
  for (const tag of tags) {
    for (const o of ops.filter(x => tagOf(x) === tag)) {
      const heading = `${o.method.toUpperCase()} ${o.urlPath}`;
      const auth = (o.op.security || []).flatMap(Object.keys).join(', ') || '—';
      out.push(`| ${o.method.toUpperCase()} | [\`${o.urlPath}\`](#${slug(heading)}) | ${auth} | ${cell(o.op.summary)} |`);
    }
  }
  out.push('');
  for (const tag of tags) {
    const tagged = ops.filter(x => tagOf(x) === tag);
    if (!tagged.length) continue;
    const about = (spec.tags || []).find(t => t.name === tag);
    out.push(`## Routes tagged \`${tag}\``, '');
    if (about && about.description) out.push(about.description, '');
    for (const o of tagged) out.push(operationSection(spec, o.method, o.urlPath, o.op));
  }

  out.push('## Types', '');
  for (const [ name, schema ] of Object.entries(spec.components.schemas)) {
    out.push(`### ${name}`, '');
    if (schema.description) out.push(schema.description, '');
    if (schema.properties) {
      out.push(fieldTable(schema), '');
    } else if (schema.oneOf) {
      out.push(`One of: ${schema.oneOf.map(typeOf).join('; ')}.`, '');
    } else {
      const limits = rules(schema);
      out.push(`${typeOf(schema)}${limits ? `, ${limits}` : ''}.`, '');
    }
  }
  return out.join('\n');
}

/** docs/api.md as it should be: the template with its marker line replaced by the reference. */
function renderApiDoc(spec = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')), template = fs.readFileSync(TEMPLATE_PATH, 'utf8')) {
  if (!template.includes(MARKER)) throw new Error(`${path.relative(root, TEMPLATE_PATH)} has no ${MARKER} line`);
  const page = template.replace(MARKER, () => renderReference(spec));
  return page.replace(/\n{3,}/g, '\n\n').replace(/\s*$/, '\n');
}

module.exports = { renderApiDoc, OUTPUT_PATH };

if (require.main === module) {
  const page = renderApiDoc();
  const rel = path.relative(root, OUTPUT_PATH);
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OUTPUT_PATH) ? fs.readFileSync(OUTPUT_PATH, 'utf8') : '';
    if (current !== page) {
      console.error(`${rel} is out of date: run npm run docs:api`);
      process.exit(1);
    }
    console.log(`${rel} is up to date`);
  } else {
    fs.writeFileSync(OUTPUT_PATH, page);
    console.log(`wrote ${rel}`);
  }
}
