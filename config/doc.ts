// The option tables of docs/configuration.md, rendered from the table of config/options.ts. Each
// table sits between an opening marker naming its section and a closing marker; the prose around
// them is written by hand. `npm run docs:config` rewrites them; test/unit/config-doc.unit.test.ts
// fails when the committed page differs from what the table renders.
import { OPTIONS, type Sectioned } from './options.js';

const BLOCK = /<!-- options: (.+?) \(generated from config\/options\.ts by `npm run docs:config`\) -->\n[\s\S]*?<!-- \/options -->/g;

export const marker = (section: string) => `<!-- options: ${section} (generated from config/options.ts by \`npm run docs:config\`) -->`;

/** The markdown table of one section, in the order of the table. */
export function optionTable(section: string): string {
  const rows = (Object.entries(OPTIONS) as [string, Sectioned][])
    .filter(([, o]) => o.section === section)
    .map(([name, o]) => `| \`${name}\` | ${o.shown} | ${o.doc} |`);
  if (!rows.length) throw new Error(`config/options.ts has no section "${section}"`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** `markdown` with every generated block rendered afresh; throws when a section has no block or a block no section. */
export function renderConfigurationDoc(markdown: string): string {
  const sections = new Set((Object.values(OPTIONS) as Sectioned[]).map((o) => o.section));
  const seen = new Set<string>();
  const out = markdown.replace(BLOCK, (_, section: string) => {
    seen.add(section);
    return `${marker(section)}\n${optionTable(section)}\n<!-- /options -->`;
  });
  const missing = [...sections].filter((s) => !seen.has(s));
  if (missing.length) throw new Error(`docs/configuration.md has no generated table for ${missing.join(', ')}`);
  return out;
}
