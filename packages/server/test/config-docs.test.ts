import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable } from '../src/config/index.js';

it('README.md documents every configuration variable as the schema defines it (pnpm docs:config)', () => {
  const readme = readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md'),
    'utf8',
  );
  const block = readme.slice(
    readme.indexOf(CONFIG_TABLE_START) + CONFIG_TABLE_START.length,
    readme.indexOf(CONFIG_TABLE_END),
  );
  expect(block.trim()).toBe(renderConfigTable());
});
