import { uuid } from '../common/ids.js';
import type { SimLogger } from '../common/logger.js';
import type { Store } from './store.js';
import type { Task } from './types.js';

export type TaskHandler = (task: Task) => Promise<void> | void;

/**
 * Drives asynchronous status transitions (creating → available, …) with timers. Each pending
 * transition is a Task in the persisted state, so a restarted simulator finds it and finishes it:
 * nothing stays in a transitional status forever.
 */
export class Scheduler {
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  /** Operations whose transitions wait until released (a test control, see `hold`). */
  private readonly held = new Set<string>();
  private closed = false;

  constructor(
    private readonly store: Store,
    readonly delayMs: number,
    private readonly logger: SimLogger,
  ) {}

  register(op: string, handler: TaskHandler): void {
    this.handlers.set(op, handler);
  }

  /** Persists the task (the caller's request saves the state) and arms its timer. */
  schedule(op: string, target: string, args: Record<string, unknown> = {}, delayMs = this.delayMs): Task {
    const task: Task = { id: uuid(), op, target, args, due_at: Date.now() + delayMs };
    this.store.state.tasks[task.id] = task;
    this.arm(task);
    return task;
  }

  /** Re-arms every persisted task (start-up after a restart). */
  resume(): void {
    const pending = Object.values(this.store.state.tasks).sort((a, b) => a.due_at - b.due_at);
    for (const task of pending) this.arm(task);
  }

  /**
   * Test control: transitions of `op` (e.g. `server.build`) do not happen until `release(op)`, as
   * when the real service is slow (a server stays in BUILD). They stay persisted meanwhile.
   */
  hold(op: string): void {
    this.held.add(op);
  }

  release(op: string): void {
    this.held.delete(op);
    for (const task of Object.values(this.store.state.tasks)) {
      if (task.op === op && !this.timers.has(task.id)) this.arm(task);
    }
  }

  pendingFor(target: string): Task[] {
    return Object.values(this.store.state.tasks).filter((t) => t.target === target);
  }

  private arm(task: Task): void {
    const delay = Math.max(0, task.due_at - Date.now());
    const timer = setTimeout(() => {
      this.timers.delete(task.id);
      if (this.held.has(task.op)) return; // armed again by release()
      const p = this.run(task).finally(() => this.running.delete(p));
      this.running.add(p);
    }, delay);
    this.timers.set(task.id, timer);
  }

  private async run(task: Task): Promise<void> {
    if (this.closed || !this.store.state.tasks[task.id]) return;
    const handler = this.handlers.get(task.op);
    try {
      if (!handler) throw new Error(`no handler for task ${task.op}`);
      await handler(task);
    } catch (err) {
      this.logger.info({ err, task }, 'simulator task failed');
    }
    delete this.store.state.tasks[task.id];
    this.store.save();
  }

  /** Waits for running tasks; timers not yet fired stay persisted for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
