-- AlterTable
ALTER TABLE "VolumeBackup" ADD COLUMN     "dataSnapshotId" TEXT;
