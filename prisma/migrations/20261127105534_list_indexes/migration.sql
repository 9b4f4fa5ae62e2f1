-- DropIndex
DROP INDEX "VolumeBackup_projectId_createdAt_idx";

-- CreateIndex
CREATE INDEX "VolumeBackup_projectId_createdAt_id_idx" ON "VolumeBackup"("projectId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "VolumeBackup_createdAt_id_idx" ON "VolumeBackup"("createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "VolumeBackup_parentId_idx" ON "VolumeBackup"("parentId");
