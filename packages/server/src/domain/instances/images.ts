import { JobFailedError } from '../../jobs/errors.js';
import type { Image } from '../../openstack/glance.js';
import { waitUntil } from '../wait.js';
import type { InstanceJobDeps } from './deps.js';

// Glance images made through Nova createImage, seen with the service user's token (admin: any project's).

/** Waits until Nova has uploaded the image (queued → saving → active). */
export async function waitForImageActive(deps: InstanceJobDeps, imageId: string, signal: AbortSignal) {
  return waitUntil(
    `image ${imageId} to become active`,
    () =>
      deps.cloud.asService(async ({ glance }) => {
        const image = await deps.cloud.glance.getImage(glance, imageId);
        if (!image) throw new JobFailedError(`image ${imageId} disappeared before it became active`);
        if (['killed', 'deleted', 'pending_delete', 'deactivated'].includes(image.status))
          throw new JobFailedError(`Nova could not make image ${imageId} (status ${image.status})`);
        return image.status === 'active' ? image : undefined;
      }),
    { signal, intervalMs: deps.pollMs, timeoutMs: deps.waitTimeoutMs },
  );
}

/** Images of that (unique) name the service can see: how a retried step finds what it made. */
export async function findImagesByName(deps: InstanceJobDeps, name: string): Promise<Image[]> {
  return deps.cloud.asService(({ glance }) => deps.cloud.glance.listImages(glance, { name }));
}

/** Deletes an image (gone already: fine). */
export async function deleteImage(deps: InstanceJobDeps, imageId: string) {
  await deps.cloud.asService(({ glance }) => deps.cloud.glance.deleteImage(glance, imageId));
}
