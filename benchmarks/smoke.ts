// The CI smoke as a function, for a test: `await runSmoke()` spawns a private Chorus, runs the
// smoke profile (loss, duplicates, reordering, 5xx only) and stops it. Same as
// `node dist/benchmarks/run.js smoke --spawn`.
import os from 'node:os';
import path from 'node:path';
import { runBench, type BenchOutcome } from './coordinator/bench.js';

export async function runSmoke(opts: { url?: string; outDir?: string; say?: (l: string) => void } = {}): Promise<BenchOutcome> {
  return runBench({
    profile: 'smoke',
    spawn: !opts.url,
    url: opts.url,
    outDir: opts.outDir ?? path.join(os.tmpdir(), 'chorus-bench-smoke'),
    say: opts.say ?? (() => {}),
  });
}
