import { configShape } from './schema.js';

/** The README's configuration table, rendered from the schema so the two cannot drift apart. */
export function renderConfigTable(): string {
  const rows = Object.entries(configShape).map(([name, schema]) => {
    const parsed = schema.safeParse(undefined);
    const fallback = parsed.success && parsed.data !== undefined ? `\`${String(parsed.data)}\`` : '—';
    return `| \`${name}\` | ${fallback} | ${schema.description ?? ''} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

export const CONFIG_TABLE_START = '<!-- config-table:start (pnpm docs:config) -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';
