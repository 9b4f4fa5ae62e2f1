export type { GraphQLContext } from './context.js';
export { GRAPHQL_CODES } from './errors.js';
export { graphqlPlugin } from './plugin.js';
export { schema } from './schema/index.js';
export { createGraphQLHandler, type GraphQLHandler, type GraphQLOptions } from './yoga.js';
