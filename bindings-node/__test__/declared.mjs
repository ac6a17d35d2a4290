// The hand-written declarations of types.d.ts, read with the TypeScript compiler, to hold real
// objects from core against them: every declared key present, no undeclared one, nested
// interfaces checked in turn.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const source = ts.createSourceFile(
  'types.d.ts',
  readFileSync(new URL('../types.d.ts', import.meta.url), 'utf8'),
  ts.ScriptTarget.Latest,
  true,
);

/** Interface name → its properties: `{name, optional, type}` (the type node). */
const interfaces = new Map();
for (const statement of source.statements) {
  if (!ts.isInterfaceDeclaration(statement)) continue;
  const members = statement.members.filter(ts.isPropertySignature).map((m) => ({
    name: m.name.getText(source),
    optional: m.questionToken !== undefined,
    type: m.type,
  }));
  interfaces.set(statement.name.text, members);
}

/** The interface a type node names, directly, as `T | null` or as `T[]`; with whether it is an array. */
function named(type) {
  if (ts.isUnionTypeNode(type)) {
    const rest = type.types.filter((t) => !(ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword));
    return rest.length === 1 ? named(rest[0]) : null;
  }
  if (ts.isArrayTypeNode(type)) {
    const inner = named(type.elementType);
    return inner && { ...inner, array: true };
  }
  if (ts.isTypeReferenceNode(type) && interfaces.has(type.typeName.getText(source))) {
    return { name: type.typeName.getText(source), array: false };
  }
  return null;
}

/** Assert that `value` has exactly the keys interface `name` declares, recursively. */
export function assertShape(value, name, path = name) {
  const members = interfaces.get(name);
  assert.ok(members, `types.d.ts declares no interface ${name}`);
  const keys = new Set(Object.keys(value));
  for (const m of members) {
    if (!m.optional) assert.ok(keys.has(m.name), `${path}.${m.name} is declared but missing`);
  }
  for (const key of keys) {
    const m = members.find((member) => member.name === key);
    assert.ok(m, `${path}.${key} is not declared in ${name}`);
    const inner = m.type && named(m.type);
    const v = value[key];
    if (!inner || v === null || v === undefined) continue;
    for (const [i, item] of (inner.array ? v : [v]).entries()) {
      assertShape(item, inner.name, inner.array ? `${path}.${key}[${i}]` : `${path}.${key}`);
    }
  }
}
