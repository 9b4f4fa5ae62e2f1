/** Cinder's timestamp form: naive UTC ISO 8601 with microseconds, e.g. 2023-06-23T11:56:08.691468. */
export function cinderTime(date: Date): string;
export function cinderTime(date: Date | null): string | null;
export function cinderTime(date: Date | null): string | null {
  if (!date) return null;
  return `${date.toISOString().slice(0, 23)}000`;
}
