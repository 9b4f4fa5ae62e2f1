/**
 * Error bodies, one builder per service, as the real services render them
 * (see ../shared/openstack-api-samples/README.md, "Error body shapes").
 */

/** Thrown by handlers; the service's server turns it into that service's error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (msg: string) => new ApiError(400, msg);
export const unauthorized = (msg = 'The request you have made requires authentication.') =>
  new ApiError(401, msg);
export const forbidden = (msg: string) => new ApiError(403, msg);
export const notFound = (msg: string) => new ApiError(404, msg);
export const conflict = (msg: string) => new ApiError(409, msg);

/** webob/wsgi fault names shared by Cinder and Nova (`_fault_names` in their wsgi.py). */
const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** Cinder: `{"<faultName>": {"code": N, "message": "..."}}`; anything unnamed (406 included) is computeFault. */
export function cinderErrorBody(status: number, message: string): Record<string, unknown> {
  return { [FAULT_NAMES[status] ?? 'computeFault']: { code: status, message } };
}

/** Nova: the same envelope; 429 is also overLimit. */
export function novaErrorBody(status: number, message: string): Record<string, unknown> {
  const name = status === 429 ? 'overLimit' : (FAULT_NAMES[status] ?? 'computeFault');
  return { [name]: { code: status, message } };
}

const KEYSTONE_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Keystone: `{"error": {"code", "title", "message"}}`. */
export function keystoneErrorBody(status: number, message: string): Record<string, unknown> {
  return { error: { code: status, title: KEYSTONE_TITLES[status] ?? 'Error', message } };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Glance answers with a plain webob error whose format follows `Accept`: JSON with a *string* code
 * for application/json, HTML for anything else that accepts HTML, text otherwise.
 */
export function glanceErrorResponse(
  status: number,
  message: string,
  accept: string | undefined,
): { contentType: string; body: string } {
  const title = STATUS_TEXT[status] ?? 'Error';
  const code = `${status} ${title}`;
  const explanation = `${message}<br /><br />\n\n\n`;
  if (accept?.includes('application/json')) {
    return { contentType: 'application/json', body: JSON.stringify({ message: explanation, code, title }) };
  }
  if (accept && (accept.includes('text/html') || accept.includes('*/*'))) {
    return {
      contentType: 'text/html; charset=UTF-8',
      body: `<html>\n <head>\n  <title>${code}</title>\n </head>\n <body>\n  <h1>${code}</h1>\n  ${explanation}\n </body>\n</html>`,
    };
  }
  return { contentType: 'text/plain; charset=UTF-8', body: `${code}\n\n${message}\n\n   ` };
}

/** The keystonemiddleware rejection every Cinder/Nova/Glance request without a valid token gets. */
export function keystoneMiddleware401(keystoneBase: string): {
  body: Record<string, unknown>;
  headers: Record<string, string>;
} {
  return {
    body: keystoneErrorBody(401, 'The request you have made requires authentication.'),
    headers: { 'www-authenticate': `Keystone uri="${keystoneBase}"` },
  };
}
