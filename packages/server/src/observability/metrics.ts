import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per service instance (tests run several in one process). Domain code records through
 * these handles; /metrics renders the registry.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests by method, route and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: 'backup_jobs_finished_total',
      help: 'Jobs that ended, by kind and final status.',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    }),
    jobsRunning: new Gauge({
      name: 'backup_jobs_running',
      help: 'Jobs this process is running now.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    bytesRead: new Counter({
      name: 'backup_bytes_read_total',
      help: 'Bytes read from volumes by backups.',
      registers: [registry],
    }),
    bytesStored: new Counter({
      name: 'backup_bytes_stored_total',
      help: 'Bytes added to repositories (new chunks, after compression).',
      registers: [registry],
    }),
    dedupRatio: new Gauge({
      name: 'backup_repository_dedup_ratio',
      help: 'Logical bytes of all backups divided by bytes stored, per repository.',
      labelNames: ['repository'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
