import {
  type BackupClient,
  createBackupClient,
  items,
  type JobView,
  pages,
  type RouterInputs,
  type VolumeBackupView,
  waitFor,
} from '@backup-service/sdk';
import { describe, expectTypeOf, it } from 'vitest';

// Acceptance 1: the SDK's types come from the server's router, and TypeScript rejects wrong calls.

declare const client: BackupClient;

describe('SDK types', () => {
  it('infers inputs and outputs from the router', () => {
    expectTypeOf(client.volumeBackups.get.query).parameter(0).toEqualTypeOf<{ id: string }>();
    expectTypeOf(client.volumeBackups.get.query).returns.resolves.toEqualTypeOf<VolumeBackupView>();
    expectTypeOf(client.volumeBackups.list.query)
      .returns.resolves.toHaveProperty('nextMarker')
      .toEqualTypeOf<string | null>();
    expectTypeOf<VolumeBackupView['status']>().toEqualTypeOf<
      'creating' | 'available' | 'deleting' | 'restoring' | 'error' | 'error_deleting'
    >();
    expectTypeOf<RouterInputs['volumeBackups']['create']['volumeId']>().toEqualTypeOf<string>();
    expectTypeOf(client.jobs.get.query).returns.resolves.toEqualTypeOf<JobView>();
  });

  it('rejects wrong arguments at compile time', () => {
    // @ts-expect-error volumeId is required
    client.volumeBackups.create.mutate({ name: 'x' });
    // @ts-expect-error volumeId is a string
    client.volumeBackups.create.mutate({ volumeId: 42 });
    // @ts-expect-error unknown key
    client.volumeBackups.update.mutate({ id: 'x', title: 'y' });
    // @ts-expect-error a status a backup never has
    client.volumeBackups.list.query({ status: 'done' });
    // @ts-expect-error sort keys are the domain's
    client.volumeBackups.list.query({ sort: { key: 'size_gb', dir: 'asc' } });
    // @ts-expect-error a query is not a mutation
    client.volumeBackups.get.mutate({ id: 'x' });
    // @ts-expect-error no such procedure
    client.volumeBackups.purge.mutate({ id: 'x' });
    // @ts-expect-error waitFor only accepts statuses of the resource
    waitFor(client.volumeBackups.get, { id: 'x' }, { status: 'succeeded' });
    // @ts-expect-error a client needs a token or Keystone credentials
    createBackupClient({ url: 'http://127.0.0.1:8110' });
  });

  it('pages and items keep the input and item types of the list', () => {
    expectTypeOf(pages(client.volumeBackups.list, { volumeId: 'v', limit: 10 })).toEqualTypeOf<
      AsyncGenerator<VolumeBackupView[], void, undefined>
    >();
    expectTypeOf(items(client.jobs.list, { status: ['running'] })).toEqualTypeOf<
      AsyncGenerator<JobView, void, undefined>
    >();
    // @ts-expect-error a filter the list does not have
    items(client.jobs.list, { volumeId: 'v' });
  });

  it('waitFor returns the resource it waited for', () => {
    expectTypeOf(
      waitFor(client.volumeBackups.get, { id: 'x' }, { status: 'available' }),
    ).resolves.toEqualTypeOf<VolumeBackupView>();
    expectTypeOf(
      waitFor(client.jobs.get, { id: 'x' }, { status: ['succeeded', 'failed'] }),
    ).resolves.toEqualTypeOf<JobView>();
  });
});
