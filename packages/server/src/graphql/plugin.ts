import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { createGraphQLHandler, type GraphQLOptions } from './yoga.js';

/** `/graphql` in the HTTP app: one route that hands requests to Yoga (GET, POST, SSE). */
export function graphqlPlugin(options: GraphQLOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const yoga = createGraphQLHandler(options);
    app.route({
      url: '/',
      method: ['GET', 'POST', 'OPTIONS'],
      handler: async (request, reply) => {
        const response = await yoga.handleNodeRequestAndResponse(request, reply, {});
        response.headers.forEach((value, key) => {
          reply.header(key, value);
        });
        reply.status(response.status);
        return reply.send(response.body);
      },
    });
  };
}
