// `npm run docs:config`: rewrites the option tables of docs/configuration.md from config/options.ts.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigurationDoc } from '../config/doc.js';

const file = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const before = fs.readFileSync(file, 'utf8');
const after = renderConfigurationDoc(before);
if (after === before) process.stdout.write('docs/configuration.md is current\n');
else {
  fs.writeFileSync(file, after);
  process.stdout.write('docs/configuration.md: option tables rewritten from config/options.ts\n');
}
