// A minimal typed event emitter (no Node `events`: the SDK runs in browsers). A listener that throws
// does not stop the others; its error goes to the `listenerError` hook.

export type Listener<T> = (value: T) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<any>>>();
  /** Where errors thrown by listeners go (default: reported asynchronously, never swallowed). */
  listenerError: (err: unknown) => void = (err) => { queueMicrotask(() => { throw err; }); };

  on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  once<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(type, (v) => { off(); fn(v); });
    return off;
  }

  off<K extends keyof Events>(type: K, fn: Listener<Events[K]>): void {
    this.listeners.get(type)?.delete(fn);
  }

  protected emit<K extends keyof Events>(type: K, value: Events[K]): void {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try {
        fn(value);
      } catch (err) {
        this.listenerError(err);
      }
    }
  }
}
