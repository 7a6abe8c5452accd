// Writes <profile>-<timestamp>.json / .md / .html into the results directory.
import fs from 'node:fs';
import path from 'node:path';
import type { Report } from './model.js';
import { renderMarkdown } from './markdown.js';
import { renderHtml } from './html.js';
import { compareFigures, loadBaseline, renderDeltas } from './baseline.js';

export interface WrittenReports {
  json: string;
  markdown: string;
  html: string;
  /** The markdown text (summary, and the baseline comparison when asked). */
  text: string;
}

export function stamp(d: Date): string {
  return d.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function writeReports(report: Report, outDir: string, baselineFile?: string): WrittenReports {
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(path.resolve(outDir), `${report.profile.name}-${stamp(new Date(report.run.startedAt))}`);
  let text = renderMarkdown(report);
  if (baselineFile) {
    const b = loadBaseline(baselineFile);
    text += '\n' + renderDeltas(compareFigures(report.figures, b.figures), `${path.basename(baselineFile)} (${b.profile.name}, ${b.run.startedAt})`);
  }
  const files = { json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html`, text };
  fs.writeFileSync(files.json, JSON.stringify(report, null, 1) + '\n');
  fs.writeFileSync(files.markdown, text);
  fs.writeFileSync(files.html, renderHtml(report, text));
  return files;
}
