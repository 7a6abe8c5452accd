// What must be undone when the harness is interrupted (Ctrl-C): a spawned stack is detached and
// would outlive us. Generators need nothing: they exit when their IPC channel closes.
const tasks = new Set<() => Promise<void>>();

export function onInterrupt(fn: () => Promise<void>): () => void {
  tasks.add(fn);
  return () => {
    tasks.delete(fn);
  };
}

export async function runCleanups(): Promise<void> {
  const all = [...tasks];
  tasks.clear();
  await Promise.allSettled(all.map((f) => f()));
}
