export interface SimLogger {
  info(...a: unknown[]): void;
  debug(...a: unknown[]): void;
}

export const silentLogger: SimLogger = { info() {}, debug() {} };
