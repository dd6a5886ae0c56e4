import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  type GraphQLSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { getSchema, getSubgraphSchema } from '../../src/graphql/schema.js';

/** Every schema coordinate (Type, Type.field, Type.field(arg:), Enum.VALUE) without a description. */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (coordinate: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(coordinate);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name}:)`, arg.description);
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) check(`${type.name}.${field.name}`, field.description);
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
    }
  }
  return missing;
}

describe('schema descriptions', () => {
  it("describes every type, field, argument and enum value (GraphiQL's docs explorer shows them)", () => {
    expect(undescribed(getSchema())).toEqual([]);
  });

  it('describes the federation fields and types of the schema served on /graphql too', () => {
    // Directive-only types (link__Purpose, federation__FieldSet…) are not shown by GraphiQL's docs.
    const missing = undescribed(getSubgraphSchema()).filter((c) => !/^(link__|federation__)/.test(c));
    expect(missing).toEqual([]);
  });
});
