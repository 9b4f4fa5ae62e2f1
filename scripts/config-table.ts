// Rewrites the configuration table in README.md from the zod schema: `pnpm docs:config`.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  CONFIG_TABLE_END,
  CONFIG_TABLE_START,
  renderConfigTable,
} from '../packages/server/src/config/index.js';

const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf(CONFIG_TABLE_START);
const end = readme.indexOf(CONFIG_TABLE_END);
if (start < 0 || end < start)
  throw new Error(`README.md lacks the ${CONFIG_TABLE_START} … ${CONFIG_TABLE_END} markers`);
const table = `${CONFIG_TABLE_START}\n${renderConfigTable()}\n`;
writeFileSync('README.md', readme.slice(0, start) + table + readme.slice(end));
console.log('README.md configuration table updated');
