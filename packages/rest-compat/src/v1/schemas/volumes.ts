import { z } from 'zod';
import { metadata, name255, sizeGb, uuid } from './common.js';

/**
 * `POST /volume` with `backup_id` (SPEC §5.2). Other volume sources a Cinder client sends as null
 * (snapshot_id, source_volid, imageRef, …) are accepted only when empty: a volume has one source.
 */
export const restoreVolumeRequest = z.object({
  volume: z.strictObject(
    {
      backup_id: uuid,
      name: name255.nullish(),
      description: name255.nullish(),
      size: sizeGb.optional(),
      volume_type: name255.nullish(),
      availability_zone: name255.nullish(),
      metadata: metadata.optional(),
      snapshot_id: z.null({ error: 'a volume restored from a backup has no snapshot_id' }).optional(),
      source_volid: z.null({ error: 'a volume restored from a backup has no source_volid' }).optional(),
      imageRef: z.null({ error: 'a volume restored from a backup has no imageRef' }).optional(),
      consistencygroup_id: z.null().optional(),
      group_id: z.null().optional(),
      multiattach: z.literal(false, { error: 'a restored volume is not multiattach' }).optional(),
    },
    { error: 'expected an object' },
  ),
});

export const rollbackArgs = z.strictObject({ snapshot_id: uuid }, { error: 'expected an object' });

/** `POST /volume/<id>/action` with `rollback` (SPEC §5.3): the only key. */
export const rollbackRequest = z.strictObject({ rollback: rollbackArgs });
export const rollbackResponse = z.object({
  rollback: z.object({ volume_id: uuid, snapshot_id: uuid, job_id: uuid }),
});

export const volumeResponse = z.object({ volume: z.looseObject({ id: z.string(), status: z.string() }) });
