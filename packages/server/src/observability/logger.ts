import { pino } from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout; every request's lines carry its `req_id`. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'backup-service', pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers["x-auth-token"]', 'req.headers["x-subject-token"]', '*.password'],
      censor: '***',
    },
  });
}
