// The API reference page (/v1/reference): /v1/openapi.json rendered on the server as plain HTML, so
// the page needs no script and loads nothing from anywhere else.

type Json = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const html = (text: unknown) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Inline code and line breaks of the document's Markdown-ish descriptions. */
const prose = (text: unknown) =>
  html(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\n/g, '<br>');

const anchor = (name: string) => `schema-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

/** A JSON Schema as indented JSON, each `$ref` a link to its component. */
function schemaHtml(schema: unknown): string {
  const text = html(JSON.stringify(schema, null, 2));
  return `<pre>${text.replace(
    /&#34;#\/components\/schemas\/([^&]+)&#34;/g,
    (_all, name: string) => `<a href="#${anchor(name)}">&#34;#/components/schemas/${name}&#34;</a>`,
  )}</pre>`;
}

function resolve(document: Json, value: unknown): Json {
  const reference = (value as { $ref?: string } | undefined)?.$ref;
  if (!reference) return (value ?? {}) as Json;
  return reference
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node as Json)[key], document) as Json;
}

function operationHtml(
  document: Json,
  path: string,
  method: string,
  operation: Json,
  shared: Json[],
): string {
  const parameters = [...shared, ...((operation.parameters as Json[] | undefined) ?? [])];
  const body = operation.requestBody as Json | undefined;
  const bodySchema = (body?.content as Json | undefined)?.['application/json'] as Json | undefined;
  const id = `op-${String(operation.operationId ?? `${method}-${path}`)}`;
  return `
<section class="operation" id="${html(id)}">
  <h3><span class="method ${method}">${method.toUpperCase()}</span> <code>/v1${html(path)}</code> — ${html(operation.summary)}</h3>
  ${operation.description ? `<p>${prose(operation.description)}</p>` : ''}
  ${
    parameters.length
      ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>${parameters
          .map(
            (p) =>
              `<tr><td><code>${html(p.name)}</code></td><td>${html(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td><code>${html(JSON.stringify(p.schema))}</code></td><td>${prose(p.description)}</td></tr>`,
          )
          .join('')}</table>`
      : ''
  }
  ${bodySchema ? `<h4>Request body</h4>${body?.description ? `<p>${prose(body.description)}</p>` : ''}${schemaHtml(bodySchema.schema)}` : ''}
  <h4>Responses</h4>
  <table><tr><th>status</th><th>description</th><th>body</th></tr>${Object.entries(
    (operation.responses as Json) ?? {},
  )
    .map(([status, raw]) => {
      const response = resolve(document, raw);
      const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)
        ?.schema;
      return `<tr><td>${html(status)}</td><td>${prose(response.description)}</td><td>${schema ? schemaHtml(schema) : ''}</td></tr>`;
    })
    .join('')}</table>
</section>`;
}

export function renderReference(document: Json): string {
  const info = document.info as Json;
  const paths = document.paths as Record<string, Json>;
  const schemas = ((document.components as Json).schemas ?? {}) as Record<string, unknown>;
  const operations: Array<{
    tag: string;
    html: string;
    path: string;
    method: string;
    summary: unknown;
    id: string;
  }> = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      operations.push({
        tag: ((operation.tags as string[] | undefined) ?? ['Other'])[0] as string,
        path,
        method,
        summary: operation.summary,
        id: `op-${String(operation.operationId ?? `${method}-${path}`)}`,
        html: operationHtml(document, path, method, operation, (item.parameters as Json[] | undefined) ?? []),
      });
    }
  }
  const tags = [...new Set(operations.map((o) => o.tag))];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(info.title)} — API reference</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2330; display: flex; }
  nav { width: 20rem; flex: none; height: 100vh; overflow: auto; position: sticky; top: 0; background: #f3f5f8; padding: 1rem; box-sizing: border-box; }
  nav a { display: block; color: inherit; text-decoration: none; padding: .1rem 0; font-size: 13px; }
  main { padding: 1rem 2rem 4rem; max-width: 70rem; overflow: hidden; }
  code, pre { font: 13px/1.4 ui-monospace, monospace; }
  pre { background: #f6f8fa; padding: .6rem; overflow: auto; max-height: 28rem; margin: 0; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
  th, td { border: 1px solid #d9dee5; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  .operation { border-top: 1px solid #d9dee5; padding-top: .5rem; margin-top: 1.5rem; }
  .method { display: inline-block; min-width: 4.2rem; text-align: center; color: #fff; border-radius: 3px; font-size: 12px; padding: .1rem .3rem; }
  .get { background: #2f6fdf; } .post { background: #1f9d55; } .put, .patch { background: #c17d11; } .delete { background: #cf3a3a; }
</style>
</head>
<body>
<nav>
  <strong>${html(info.title)}</strong>
  <a href="openapi.json">openapi.json</a>
  ${tags
    .map(
      (tag) =>
        `<p><strong>${html(tag)}</strong></p>${operations
          .filter((o) => o.tag === tag)
          .map(
            (o) =>
              `<a href="#${html(o.id)}"><span class="method ${o.method}">${o.method.toUpperCase()}</span> ${html(o.path)}</a>`,
          )
          .join('')}`,
    )
    .join('')}
  <p><strong>Schemas</strong></p>
  ${Object.keys(schemas)
    .map((name) => `<a href="#${anchor(name)}">${html(name)}</a>`)
    .join('')}
</nav>
<main>
  <h1>${html(info.title)}</h1>
  <p>${prose(info.description)}</p>
  <p>OpenAPI ${html(document.openapi)} · <a href="openapi.json">openapi.json</a> · base path <code>/v1</code> · authentication: <code>X-Auth-Token</code> (Keystone)</p>
  ${tags
    .map(
      (tag) =>
        `<h2>${html(tag)}</h2>${operations
          .filter((o) => o.tag === tag)
          .map((o) => o.html)
          .join('')}`,
    )
    .join('')}
  <h2>Schemas</h2>
  ${Object.entries(schemas)
    .map(
      ([name, schema]) =>
        `<section id="${anchor(name)}"><h3>${html(name)}</h3>${schemaHtml(schema)}</section>`,
    )
    .join('')}
</main>
</body>
</html>
`;
}
