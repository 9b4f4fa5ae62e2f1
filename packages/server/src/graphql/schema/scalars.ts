import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';

builder.scalarType('DateTime', {
  description: 'A point in time, as an ISO 8601 string in UTC (2026-01-31T12:00:00.000Z).',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime()))
      throw new GraphQLError('DateTime: expected an ISO 8601 string');
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value (metadata objects, the description of an instance).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function literal(ast): unknown {
    switch (ast.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return ast.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(ast.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return ast.values.map((value) => literal(value));
      case Kind.OBJECT:
        return Object.fromEntries(ast.fields.map((field) => [field.name.value, literal(field.value)]));
      default:
        throw new GraphQLError(
          'JSON: variables are not allowed inside a JSON literal; pass the value as a variable',
        );
    }
  },
});

export const SortDirection = builder.enumType('SortDirection', { values: ['ASC', 'DESC'] as const });

/** `ASC` → `asc`, as Prisma and the domain's sort specs spell it. */
export const direction = (value: 'ASC' | 'DESC' | null | undefined, fallback: 'asc' | 'desc' = 'desc') =>
  value ? (value.toLowerCase() as 'asc' | 'desc') : fallback;
