import {
  type RepositoryBenchmarkRow,
  repositoryBenchmarkTable,
  runRepositoryBenchmark,
} from '../../packages/server/src/dataplane/bench-repository.js';

/**
 * Backup and restore throughput per repository backend (issue 10, acceptance 5), the data plane on
 * the same dataset: the filesystem repository and S3 side by side. `auto`: file, plus S3 when an S3
 * endpoint answers (S3_ENDPOINT; default the RADOS Gateway of ../shared/openstack-env with its
 * `backup`/`backupsecret` user). `none` skips it.
 */
export async function repositoryBackends(
  choice: string,
  sizeMiB: number,
  repeat: number,
  log: (line: string) => void,
): Promise<{ rows: RepositoryBenchmarkRow[]; table: string }> {
  if (choice === 'none') return { rows: [], table: '' };
  const wanted = choice === 'auto' ? ['file', 's3'] : choice.split(',').filter(Boolean);
  const repositories: string[] = [];
  if (wanted.includes('file')) repositories.push('file:///tmp/bench-repositories/file');
  if (wanted.includes('s3')) {
    process.env.S3_ENDPOINT ??= 'http://127.0.0.1:7480';
    process.env.S3_ACCESS_KEY_ID ??= 'backup';
    process.env.S3_SECRET_ACCESS_KEY ??= 'backupsecret';
    process.env.S3_FORCE_PATH_STYLE ??= 'true';
    const answers = await fetch(process.env.S3_ENDPOINT, { signal: AbortSignal.timeout(3000) }).then(
      () => true,
      () => false,
    );
    if (answers) repositories.push('s3://backup-service-bench/run');
    else if (choice !== 'auto') throw new Error(`no S3 answers at ${process.env.S3_ENDPOINT}`);
    else log(`repositories: no S3 at ${process.env.S3_ENDPOINT}; the filesystem only`);
  }
  if (repositories.length === 0) return { rows: [], table: '' };
  const rows = await runRepositoryBenchmark({
    repositories,
    sizeMiB,
    repeat,
    dir: '/tmp/bench-repositories/work',
    log: (line) => log(`[repositories] ${line}`),
  });
  return {
    rows,
    table: `Repository backends (data plane, best of ${repeat}):\n${repositoryBenchmarkTable(rows)}`,
  };
}
