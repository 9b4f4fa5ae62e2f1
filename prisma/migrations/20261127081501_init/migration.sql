-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "VolumeBackupStatus" AS ENUM ('creating', 'available', 'deleting', 'restoring', 'error', 'error_deleting');

-- CreateEnum
CREATE TYPE "BackupSource" AS ENUM ('volume', 'image');

-- CreateEnum
CREATE TYPE "VerifyResult" AS ENUM ('ok', 'damaged');

-- CreateEnum
CREATE TYPE "InstanceArtifactStatus" AS ENUM ('creating', 'available', 'deleting', 'error', 'error_deleting');

-- CreateEnum
CREATE TYPE "JobKind" AS ENUM ('volume_backup_create', 'volume_backup_restore', 'volume_backup_delete', 'volume_backup_verify', 'volume_rollback', 'instance_snapshot_create', 'instance_snapshot_delete', 'instance_backup_create', 'instance_backup_delete', 'repository_gc');

-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "VolumeBackup" (
    "id" UUID NOT NULL,
    "projectId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "volumeId" TEXT NOT NULL,
    "snapshotId" TEXT,
    "source" "BackupSource" NOT NULL DEFAULT 'volume',
    "status" "VolumeBackupStatus" NOT NULL,
    "failReason" TEXT,
    "sizeGb" INTEGER NOT NULL,
    "objectCount" INTEGER NOT NULL DEFAULT 0,
    "storedBytes" BIGINT NOT NULL DEFAULT 0,
    "logicalBytes" BIGINT NOT NULL DEFAULT 0,
    "isIncremental" BOOLEAN NOT NULL DEFAULT false,
    "parentId" UUID,
    "container" TEXT,
    "repositoryId" TEXT NOT NULL,
    "availabilityZone" TEXT,
    "dataTimestamp" TIMESTAMP(3),
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "progress" INTEGER NOT NULL DEFAULT 0,
    "verifyResult" "VerifyResult",
    "verifyMessage" TEXT,
    "verifiedAt" TIMESTAMP(3),
    "instanceBackupId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "VolumeBackup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstanceSnapshot" (
    "id" UUID NOT NULL,
    "projectId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "instanceId" TEXT NOT NULL,
    "status" "InstanceArtifactStatus" NOT NULL,
    "failReason" TEXT,
    "volumeSnapshots" JSONB NOT NULL DEFAULT '[]',
    "imageId" TEXT,
    "instance" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InstanceSnapshot_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstanceBackup" (
    "id" UUID NOT NULL,
    "projectId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "instanceId" TEXT NOT NULL,
    "status" "InstanceArtifactStatus" NOT NULL,
    "failReason" TEXT,
    "volumeBackups" JSONB NOT NULL DEFAULT '[]',
    "imageBackupId" UUID,
    "instance" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "container" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InstanceBackup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" UUID NOT NULL,
    "kind" "JobKind" NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "projectId" TEXT NOT NULL,
    "userId" TEXT,
    "exclusiveKeys" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "sharedKeys" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "step" TEXT NOT NULL DEFAULT 'start',
    "state" JSONB NOT NULL DEFAULT '{}',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "runAfter" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "progressDone" BIGINT NOT NULL DEFAULT 0,
    "progressTotal" BIGINT NOT NULL DEFAULT 0,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "volumeBackupId" UUID,
    "instanceSnapshotId" UUID,
    "instanceBackupId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JobEvent" (
    "id" BIGSERIAL NOT NULL,
    "jobId" UUID NOT NULL,
    "worker" TEXT NOT NULL,
    "step" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "message" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "JobEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Repository" (
    "id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Repository_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Pack" (
    "repositoryId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "chunkCount" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Pack_pkey" PRIMARY KEY ("repositoryId","id")
);

-- CreateTable
CREATE TABLE "Chunk" (
    "repositoryId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "packId" TEXT NOT NULL,
    "offset" BIGINT NOT NULL,
    "storedLength" INTEGER NOT NULL,
    "rawLength" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Chunk_pkey" PRIMARY KEY ("repositoryId","id")
);

-- CreateIndex
CREATE INDEX "VolumeBackup_projectId_createdAt_idx" ON "VolumeBackup"("projectId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "VolumeBackup_volumeId_status_createdAt_idx" ON "VolumeBackup"("volumeId", "status", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "VolumeBackup_status_idx" ON "VolumeBackup"("status");

-- CreateIndex
CREATE INDEX "InstanceSnapshot_projectId_createdAt_idx" ON "InstanceSnapshot"("projectId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InstanceBackup_projectId_createdAt_idx" ON "InstanceBackup"("projectId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Job_status_runAfter_idx" ON "Job"("status", "runAfter");

-- CreateIndex
CREATE INDEX "Job_volumeBackupId_idx" ON "Job"("volumeBackupId");

-- CreateIndex
CREATE INDEX "Job_projectId_createdAt_idx" ON "Job"("projectId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "JobEvent_jobId_id_idx" ON "JobEvent"("jobId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Repository_url_key" ON "Repository"("url");

-- CreateIndex
CREATE INDEX "Chunk_repositoryId_packId_idx" ON "Chunk"("repositoryId", "packId");

-- AddForeignKey
ALTER TABLE "VolumeBackup" ADD CONSTRAINT "VolumeBackup_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "VolumeBackup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "VolumeBackup" ADD CONSTRAINT "VolumeBackup_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "Repository"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "VolumeBackup" ADD CONSTRAINT "VolumeBackup_instanceBackupId_fkey" FOREIGN KEY ("instanceBackupId") REFERENCES "InstanceBackup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_volumeBackupId_fkey" FOREIGN KEY ("volumeBackupId") REFERENCES "VolumeBackup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_instanceSnapshotId_fkey" FOREIGN KEY ("instanceSnapshotId") REFERENCES "InstanceSnapshot"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_instanceBackupId_fkey" FOREIGN KEY ("instanceBackupId") REFERENCES "InstanceBackup"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JobEvent" ADD CONSTRAINT "JobEvent_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pack" ADD CONSTRAINT "Pack_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "Repository"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Chunk" ADD CONSTRAINT "Chunk_repositoryId_fkey" FOREIGN KEY ("repositoryId") REFERENCES "Repository"("id") ON DELETE CASCADE ON UPDATE CASCADE;
