// A small JSON Schema validator for the tests (no npm packages): the subset of
// draft 2020-12 that docs/json.md uses.
//
//   const errors = validate(schema, value);   // [] when valid
//   assert.deepEqual(errors, []);              // each error: "<json pointer>: <what>"
//
// Supported: type (incl. "integer" and type arrays), enum, const, required,
// properties, additionalProperties (boolean or schema), items (schema),
// prefixItems, minItems/maxItems, minimum/maximum, exclusiveMinimum/
// exclusiveMaximum, minLength/maxLength, pattern, anyOf, oneOf, allOf, not,
// and local references ($ref "#/$defs/x", "#/definitions/x" or any JSON
// pointer into the root schema). Annotations ($schema, $id, title,
// description, examples, default, $comment, format, deprecated, readOnly,
// writeOnly) are ignored. Any other keyword is reported as an error instead
// of being silently ignored, so a schema never looks stricter than it is.

export type Schema = boolean | { [keyword: string]: unknown };

const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  '$defs',
  'definitions',
  'title',
  'description',
  'examples',
  'default',
  'format',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

const KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  '$ref',
]);

/** JSON type name of a value, as JSON Schema sees it ("integer" is checked separately). */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v; // 'object' | 'string' | 'number' | 'boolean' | 'undefined' | ...
}

function typeMatches(t: string, v: unknown): boolean {
  switch (t) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'null':
    case 'array':
    case 'object':
    case 'string':
    case 'boolean':
      return jsonType(v) === t;
    default:
      throw new Error(`schema: unknown type '${t}'`);
  }
}

/** Deep equality of JSON values (for enum / const). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  return jsonEqual(ka, kb) && ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const ptrEscape = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#')) throw new Error(`schema: only local $ref is supported, got '${ref}'`);
  let node: unknown = root;
  const path = ref.slice(1);
  if (path === '') return root;
  if (!path.startsWith('/')) throw new Error(`schema: unsupported $ref '${ref}' (anchors are not supported)`);
  for (const raw of path.slice(1).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in (node as object))) throw new Error(`schema: $ref '${ref}' does not resolve`);
    node = (node as Record<string, unknown>)[key];
  }
  return node as Schema;
}

/**
 * Validate `value` against `schema`. Returns the errors, each as
 * "<JSON pointer of the value>: <message>"; an empty list means valid.
 * Throws on schemas it cannot interpret (unknown keywords, bad $ref).
 */
export function validate(schema: Schema, value: unknown): string[] {
  const errors: string[] = [];
  check(schema, schema, value, '', errors);
  return errors;
}

function check(root: Schema, schema: Schema, v: unknown, at: string, errors: string[]): void {
  const where = at || '/';
  if (schema === true) return;
  if (schema === false) {
    errors.push(`${where}: no value is allowed here (schema false), got ${short(v)}`);
    return;
  }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new Error(`schema at ${where}: not a schema: ${short(schema)}`);
  }
  for (const k of Object.keys(schema)) {
    if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema at ${where}: keyword '${k}' is not supported by test/helpers/schema.ts`);
  }
  const s = schema as Record<string, any>;

  if (s.$ref !== undefined) check(root, resolveRef(root, String(s.$ref)), v, at, errors);

  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => typeMatches(t, v))) {
      errors.push(`${where}: expected type ${types.join(' | ')}, got ${jsonType(v)} ${short(v)}`);
      return; // the other keywords would only repeat the mismatch
    }
  }
  if (s.const !== undefined && !jsonEqual(s.const, v)) errors.push(`${where}: expected const ${short(s.const)}, got ${short(v)}`);
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum)) throw new Error(`schema at ${where}: enum must be an array`);
    if (!s.enum.some((e: unknown) => jsonEqual(e, v))) errors.push(`${where}: ${short(v)} is not one of ${short(s.enum)}`);
  }

  if (typeof v === 'number') {
    if (s.minimum !== undefined && !(v >= s.minimum)) errors.push(`${where}: ${v} < minimum ${s.minimum}`);
    if (s.maximum !== undefined && !(v <= s.maximum)) errors.push(`${where}: ${v} > maximum ${s.maximum}`);
    if (s.exclusiveMinimum !== undefined && !(v > s.exclusiveMinimum)) errors.push(`${where}: ${v} <= exclusiveMinimum ${s.exclusiveMinimum}`);
    if (s.exclusiveMaximum !== undefined && !(v < s.exclusiveMaximum)) errors.push(`${where}: ${v} >= exclusiveMaximum ${s.exclusiveMaximum}`);
  }

  if (typeof v === 'string') {
    const len = [...v].length;
    if (s.minLength !== undefined && len < s.minLength) errors.push(`${where}: string shorter than ${s.minLength}: ${short(v)}`);
    if (s.maxLength !== undefined && len > s.maxLength) errors.push(`${where}: string longer than ${s.maxLength}: ${short(v)}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${where}: ${short(v)} does not match /${s.pattern}/`);
  }

  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) errors.push(`${where}: ${v.length} items < minItems ${s.minItems}`);
    if (s.maxItems !== undefined && v.length > s.maxItems) errors.push(`${where}: ${v.length} items > maxItems ${s.maxItems}`);
    const prefix: Schema[] = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    prefix.forEach((p, i) => {
      if (i < v.length) check(root, p, v[i], `${at}/${i}`, errors);
    });
    if (s.items !== undefined) {
      if (Array.isArray(s.items)) throw new Error(`schema at ${where}: array-form 'items' is draft-07; use prefixItems`);
      for (let i = prefix.length; i < v.length; i++) check(root, s.items as Schema, v[i], `${at}/${i}`, errors);
    }
  }

  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const obj = v as Record<string, unknown>;
    if (s.required !== undefined) {
      for (const k of s.required as string[]) if (!Object.hasOwn(obj, k)) errors.push(`${where}: missing required property '${k}'`);
    }
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const [k, sub] of Object.entries(props)) {
      if (Object.hasOwn(obj, k)) check(root, sub, obj[k], `${at}/${ptrEscape(k)}`, errors);
    }
    if (s.additionalProperties !== undefined) {
      for (const k of Object.keys(obj)) {
        if (Object.hasOwn(props, k)) continue;
        if (s.additionalProperties === false) errors.push(`${where}: property '${k}' is not allowed (additionalProperties false)`);
        else check(root, s.additionalProperties as Schema, obj[k], `${at}/${ptrEscape(k)}`, errors);
      }
    }
  }

  if (s.allOf !== undefined) for (const sub of s.allOf as Schema[]) check(root, sub, v, at, errors);
  if (s.anyOf !== undefined) {
    const branches = (s.anyOf as Schema[]).map((sub) => validate2(root, sub, v, at));
    if (!branches.some((b) => b.length === 0)) {
      errors.push(`${where}: matches none of anyOf (${branches.map((b, i) => `#${i}: ${b[0]}`).join('; ')})`);
    }
  }
  if (s.oneOf !== undefined) {
    const branches = (s.oneOf as Schema[]).map((sub) => validate2(root, sub, v, at));
    const ok = branches.filter((b) => b.length === 0).length;
    if (ok !== 1) {
      errors.push(
        ok === 0
          ? `${where}: matches none of oneOf (${branches.map((b, i) => `#${i}: ${b[0]}`).join('; ')})`
          : `${where}: matches ${ok} branches of oneOf (exactly one allowed)`,
      );
    }
  }
  if (s.not !== undefined && validate2(root, s.not as Schema, v, at).length === 0) errors.push(`${where}: must not match the 'not' schema`);
}

/** Validate a sub-schema against the same root (for $ref inside branches). */
function validate2(root: Schema, schema: Schema, v: unknown, at: string): string[] {
  const errors: string[] = [];
  check(root, schema, v, at, errors);
  return errors;
}

/**
 * The JSON Schemas of docs/json.md: every `### Schema: <name>` heading
 * followed (before the next heading) by a ```json fenced block. Returns the
 * parsed schemas by name and the problems found (a heading without a block,
 * a block that is not JSON).
 */
export function extractSchemas(markdown: string): { schemas: Map<string, Schema>; problems: string[] } {
  const schemas = new Map<string, Schema>();
  const problems: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^###\s+Schema:\s*`?([a-z][a-z0-9-]*)`?\s*$/.exec(lines[i]!);
    if (!m) continue;
    const name = m[1]!;
    let j = i + 1;
    while (j < lines.length && !/^```/.test(lines[j]!) && !/^#/.test(lines[j]!)) j++;
    if (j >= lines.length || !/^```json\s*$/.test(lines[j]!)) {
      problems.push(`'### Schema: ${name}' (line ${i + 1}) is not followed by a \`\`\`json block`);
      continue;
    }
    let k = j + 1;
    while (k < lines.length && !/^```\s*$/.test(lines[k]!)) k++;
    if (k >= lines.length) {
      problems.push(`the \`\`\`json block of '${name}' (line ${j + 1}) is never closed`);
      continue;
    }
    const text = lines.slice(j + 1, k).join('\n');
    try {
      if (schemas.has(name)) problems.push(`'### Schema: ${name}' appears twice (line ${i + 1})`);
      schemas.set(name, JSON.parse(text) as Schema);
    } catch (err) {
      problems.push(`the schema of '${name}' (line ${j + 1}) is not valid JSON: ${(err as Error).message}`);
    }
    i = k;
  }
  return { schemas, problems };
}
