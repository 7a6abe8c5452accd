// The part of the `clamscan` package (no bundled types) that the scan worker uses.
declare module 'clamscan' {
  import type { Readable } from 'node:stream';

  export interface ClamScanResult {
    /** true: a signature matched; false: clean; null: clamd gave no verdict (treat as not scanned). */
    isInfected: boolean | null;
    viruses: string[];
    file: string | null;
    resultString?: string;
    timeout?: boolean;
  }

  export default class NodeClam {
    init(options: Record<string, unknown>): Promise<NodeClam>;
    scanStream(stream: Readable): Promise<ClamScanResult>;
  }
}
