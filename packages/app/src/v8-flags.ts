import { setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow to 1.5× what survived the last full GC before the next one, instead of
 * the 1.1–4× V8 picks by its own heuristics. Under a burst of list requests the heap filled with
 * ~100 MiB of garbage before V8 collected it, and the service's RSS passed 512 MiB (`pnpm bench`,
 * PostgreSQL mode, under wrk: 525 MiB; with this flag 392 MiB at the same requests per second).
 * V8 reads the flag at every GC, so setting it here, first thing, holds however the process is
 * launched.
 */
setFlagsFromString('--heap-growing-percent=50');
