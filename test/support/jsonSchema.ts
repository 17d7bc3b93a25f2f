/**
 * A small JSON Schema validator for the subset docs/openapi.json uses (OpenAPI 3.1 schemas are
 * JSON Schema). A keyword outside the subset is an error, not ignored, so the description cannot
 * promise something no test checks.
 */

type Schema = Record<string, any>;

const VALIDATING = new Set([
  '$ref', 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems',
  'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'oneOf', 'anyOf', 'format',
]);
const ANNOTATIONS = new Set([ 'description', 'title', 'example', 'examples' ]);
const TYPES = new Set([ 'string', 'integer', 'number', 'boolean', 'object', 'array', 'null' ]);
const FORMATS = new Set([ 'date-time' ]);
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Resolves a local `#/a/b/c` reference against the document. */
export function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: any = root;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  return node;
}

/** Throws when the schema (or one inside it) uses a keyword, type or format outside the subset. */
export function assertSupported(schema: Schema, root: Schema, where = '#'): void {
  for (const [ key, value ] of Object.entries(schema)) {
    if (!VALIDATING.has(key) && !ANNOTATIONS.has(key)) throw new Error(`${where}: unsupported keyword "${key}"`);
    if (key === '$ref') resolveRef(root, value);
    if (key === 'type') {
      for (const t of Array.isArray(value) ? value : [ value ]) if (!TYPES.has(t)) throw new Error(`${where}: unknown type ${t}`);
    }
    if (key === 'format' && !FORMATS.has(value)) throw new Error(`${where}: unsupported format ${value}`);
    if (key === 'pattern') new RegExp(value, 'u');
  }
  for (const [ name, sub ] of Object.entries(schema.properties ?? {})) assertSupported(sub as Schema, root, `${where}/properties/${name}`);
  if (schema.items) assertSupported(schema.items, root, `${where}/items`);
  if (typeof schema.additionalProperties === 'object') assertSupported(schema.additionalProperties, root, `${where}/additionalProperties`);
  for (const key of [ 'oneOf', 'anyOf' ]) {
    (schema[key] ?? []).forEach((sub: Schema, i: number) => assertSupported(sub, root, `${where}/${key}/${i}`));
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer': return Number.isInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'object': return typeOf(value) === 'object';
    default: return typeOf(value) === type;
  }
}

/** Every way the value breaks the schema, as `path: problem` lines (empty when it conforms). */
export function validate(schema: Schema, value: unknown, root: Schema, path = '$'): string[] {
  if (schema.$ref) return validate(resolveRef(root, schema.$ref), value, root, path);
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [ schema.type ];
    if (!types.some(t => hasType(value, t))) return [ `${path}: expected ${types.join(' or ')}, got ${typeOf(value)}` ];
  }
  if (schema.enum && !schema.enum.some((e: unknown) => e === value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [ ...value ].length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && [ ...value ].length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) errors.push(`${path}: not a date-time`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((item, i) => errors.push(...validate(schema.items, item, root, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in object)) errors.push(`${path}: missing required "${name}"`);
    for (const [ name, v ] of Object.entries(object)) {
      if (schema.properties && name in schema.properties) errors.push(...validate(schema.properties[name], v, root, `${path}.${name}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: undocumented property "${name}"`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, root, `${path}.${name}`));
    }
  }
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => validate(s, value, root, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((s: Schema) => validate(s, value, root, path).length === 0).length;
    if (matching !== 1) errors.push(`${path}: matches ${matching} of oneOf, not exactly 1`);
  }
  return errors;
}
