/** Everything the simulator persists, in one JSON document (`<stateDir>/state.json`). */

export interface Project {
  id: string;
  name: string;
  description: string;
}

export interface User {
  id: string;
  name: string;
  password: string;
  default_project_id: string;
}

export interface Role {
  id: string;
  name: string;
}

export interface RoleAssignment {
  user_id: string;
  project_id: string;
  role_id: string;
}

export interface Token {
  id: string;
  user_id: string;
  /** null for an unscoped token. */
  project_id: string | null;
  /** Role names, implied roles included (admin ⇒ member ⇒ reader), as Keystone puts them in tokens. */
  roles: string[];
  methods: string[];
  audit_ids: string[];
  issued_at: string;
  expires_at: string;
}

export const VOLUME_STATUSES = [
  'creating',
  'available',
  'deleting',
  'error',
  'error_deleting',
  'error_managing',
  'managing',
  'attaching',
  'in-use',
  'detaching',
  'maintenance',
  'restoring-backup',
  'error_restoring',
  'reserved',
  'awaiting-transfer',
  'backing-up',
  'error_backing-up',
  'error_extending',
  'downloading',
  'uploading',
  'retyping',
  'extending',
  'reverting',
] as const;
export type VolumeStatus = (typeof VOLUME_STATUSES)[number];

export const ATTACH_STATUSES = [
  'attached',
  'attaching',
  'detached',
  'reserved',
  'detaching',
  'error_attaching',
  'error_detaching',
  'deleted',
] as const;
export type AttachStatus = (typeof ATTACH_STATUSES)[number];

export const SNAPSHOT_STATUSES = [
  'creating',
  'available',
  'deleting',
  'error',
  'error_deleting',
  'unmanaging',
  'backing-up',
  'restoring',
] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export interface Volume {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: VolumeStatus;
  attach_status: AttachStatus;
  migration_status: string | null;
  bootable: boolean;
  multiattach: boolean;
  readonly: boolean;
  availability_zone: string;
  snapshot_id: string | null;
  source_volid: string | null;
  /** Glance image the volume was made from (Cinder's `volume_image_metadata.image_id`). */
  image_id: string | null;
  image_metadata: Record<string, string> | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string | null;
}

export interface Snapshot {
  id: string;
  volume_id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  status: SnapshotStatus;
  size: number;
  metadata: Record<string, string>;
  progress: string;
  created_at: string;
  updated_at: string | null;
}

export interface Attachment {
  id: string;
  volume_id: string;
  project_id: string;
  instance_uuid: string | null;
  /** reserved → attaching → attached; legacy os-attach goes straight to attached. */
  status: AttachStatus;
  attach_mode: 'rw' | 'ro';
  connector: Record<string, unknown> | null;
  connection_info: Record<string, unknown>;
  mountpoint: string | null;
  attached_host: string | null;
  attach_time: string | null;
  detach_time: string | null;
}

/** Nova block device mapping of a server. */
export interface Bdm {
  uuid: string;
  volume_id: string | null;
  attachment_id: string | null;
  device_name: string;
  boot_index: number | null;
  source_type: 'image' | 'volume' | 'snapshot' | 'blank';
  destination_type: 'volume' | 'local';
  delete_on_termination: boolean;
  volume_size: number | null;
  image_id: string | null;
  snapshot_id: string | null;
  tag: string | null;
}

export interface ServerFault {
  code: number;
  message: string;
  details: string;
  created: string;
}

export interface Server {
  id: string;
  project_id: string;
  user_id: string;
  name: string;
  description: string | null;
  /** '' for a server booted from a volume. */
  image_id: string;
  flavor_id: string;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  locked: boolean;
  locked_by: 'owner' | 'admin' | null;
  locked_reason: string | null;
  metadata: Record<string, string>;
  tags: string[];
  key_name: string | null;
  availability_zone: string;
  /** The zone asked for at create time (2.96 `pinned_availability_zone`). */
  pinned_availability_zone: string | null;
  host: string;
  instance_name: string;
  launch_index: number;
  reservation_id: string;
  root_device_name: string;
  scheduler_hints: Record<string, unknown>;
  networks: 'auto' | 'none';
  fixed_ip: string | null;
  mac: string | null;
  bdms: Bdm[];
  fault: ServerFault | null;
  created_at: string;
  updated_at: string;
  launched_at: string | null;
}

export interface Image {
  id: string;
  name: string | null;
  owner: string;
  status: 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'deactivated' | 'uploading' | 'importing';
  visibility: 'public' | 'private' | 'shared' | 'community';
  protected: boolean;
  os_hidden: boolean;
  container_format: string | null;
  disk_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  tags: string[];
  /** Custom properties: extra top-level string keys in the image body. */
  properties: Record<string, string>;
  created_at: string;
  updated_at: string;
}

/** A pending asynchronous transition; persisted so that a restart resumes it. */
export interface Task {
  id: string;
  op: string;
  target: string;
  args: Record<string, unknown>;
  due_at: number;
}

export interface SimState {
  version: 1;
  projects: Record<string, Project>;
  users: Record<string, User>;
  roles: Record<string, Role>;
  assignments: RoleAssignment[];
  tokens: Record<string, Token>;
  volumes: Record<string, Volume>;
  snapshots: Record<string, Snapshot>;
  attachments: Record<string, Attachment>;
  servers: Record<string, Server>;
  images: Record<string, Image>;
  tasks: Record<string, Task>;
  counters: { instance: number };
}
