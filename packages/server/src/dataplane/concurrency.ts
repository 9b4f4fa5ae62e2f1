/** A counting semaphore: at most `permits` holders at once (bounds the batches in flight). */
export class Semaphore {
  private waiting: Array<() => void> = [];
  constructor(private permits: number) {}

  async acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.permits++;
  }
}

/** Runs `fn` on the value of `input` once `after` has settled successfully (ordering a stage). */
export function after<T, R>(
  previous: Promise<unknown>,
  input: Promise<T>,
  fn: (value: T) => Promise<R>,
): Promise<R> {
  return Promise.all([input, previous]).then(([value]) => fn(value));
}

/** Marks a promise as handled (its rejection is observed elsewhere), returning it. */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Resolves once `promise` has settled, whichever way (its rejection is observed elsewhere). */
export function settled(promise: Promise<unknown>): Promise<void> {
  return promise.then(
    () => {},
    () => {},
  );
}

/** Tracks promises in flight and settles them all. */
export class InFlight {
  private readonly set = new Set<Promise<unknown>>();
  add(promise: Promise<unknown>): void {
    const tracked = settled(promise);
    this.set.add(tracked);
    tracked.then(() => this.set.delete(tracked));
  }
  async settle(): Promise<void> {
    while (this.set.size > 0) await Promise.all([...this.set]);
  }
}
