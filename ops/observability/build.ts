// Writes the generated files of this folder from slos.ts and dashboards.ts:
//   node dist/ops/observability/build.js           write rules/slo-*.yml, their promtool test and dashboards/*.json
//   node dist/ops/observability/build.js --check   exit 1 and name the files that differ
// test/unit/observability.unit.test.ts runs the check, so a table edit without a rebuild fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DASHBOARDS, renderDashboard } from './dashboards.js';
import { renderBurnRateTests } from './slo-tests.js';
import { renderBurnRateAlerts, renderRecordingRules } from './slos.js';

/** ops/observability/ in the source tree (this file runs as dist/ops/observability/build.js). */
export const OBSERVABILITY_DIR = fileURLToPath(new URL('../../../ops/observability/', import.meta.url));

/** Every generated file: path relative to OBSERVABILITY_DIR → content. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>([
    ['rules/slo-recording.yml', renderRecordingRules()],
    ['rules/slo-burn-rate-alerts.yml', renderBurnRateAlerts()],
    ['rules/tests/slo-burn-rate.test.yml', renderBurnRateTests()],
  ]);
  for (const d of DASHBOARDS) files.set(`dashboards/${d.uid}.json`, renderDashboard(d));
  return files;
}

/** The generated files whose committed copy differs from what the tables produce. */
export function driftedFiles(dir = OBSERVABILITY_DIR): string[] {
  const drifted: string[] = [];
  for (const [rel, content] of generatedFiles()) {
    const file = path.join(dir, rel);
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== content) drifted.push(rel);
  }
  return drifted;
}

function main(): void {
  if (process.argv.includes('--check')) {
    const drifted = driftedFiles();
    if (drifted.length) {
      process.stderr.write(`out of date (run node dist/ops/observability/build.js): ${drifted.join(', ')}\n`);
      process.exit(1);
    }
    return;
  }
  for (const [rel, content] of generatedFiles()) {
    const file = path.join(OBSERVABILITY_DIR, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
