// Loads uWebSockets.js and refuses the pure-JS fallback. The npm republish we use silently falls back
// to a `ws`-based implementation when its native binary does not load; Chorus must not run on it.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export class NativeUwsMissing extends Error {}

export function loadNativeUws(): typeof UWS {
  if (process.env['UWS_USE_FALLBACK']) {
    throw new NativeUwsMissing('UWS_USE_FALLBACK is set: refusing to run on the slow ws fallback');
  }
  const warn = console.warn;
  const warnings: string[] = [];
  // The package reports a failed native load only through console.warn; capture it to fail loudly.
  console.warn = (...args: unknown[]) => { warnings.push(args.map(String).join(' ')); };
  let mod: typeof UWS;
  try {
    mod = require('uWebSockets.js') as typeof UWS;
  } finally {
    console.warn = warn;
  }
  const nativeLoaded = Object.keys(require.cache).some((k) => /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(k));
  if (!nativeLoaded || warnings.length) {
    throw new NativeUwsMissing(
      `uWebSockets.js native binary did not load (node ABI ${process.versions.modules}, ${process.platform}-${process.arch}): ${warnings.join(' ') || 'fallback in use'}`,
    );
  }
  return mod;
}
