-- CreateTable
CREATE TABLE "BackupListVersion" (
    "projectId" TEXT NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "BackupListVersion_pkey" PRIMARY KEY ("projectId")
);

-- Every committed change to a project's backups moves the project's list version (and the parent's
-- project's, whose `has_dependent_backups` may change with it). The trigger is deferred so that the
-- version row is locked only at commit, after every other lock the transaction takes: writers of one
-- project queue on it for the length of their commit, and cannot deadlock through it.
CREATE FUNCTION "bumpBackupListVersion"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  projects text[] := ARRAY[]::text[];
BEGIN
  IF TG_OP <> 'DELETE' THEN
    projects := projects || NEW."projectId"
      || (SELECT b."projectId" FROM "VolumeBackup" b WHERE b.id = NEW."parentId");
  END IF;
  IF TG_OP <> 'INSERT' THEN
    projects := projects || OLD."projectId"
      || (SELECT b."projectId" FROM "VolumeBackup" b WHERE b.id = OLD."parentId");
  END IF;
  -- In one order, so that two commits touching the same two projects cannot wait for each other.
  INSERT INTO "BackupListVersion" AS v ("projectId", version)
  SELECT DISTINCT p, 1 FROM unnest(projects) AS p WHERE p IS NOT NULL ORDER BY p
  ON CONFLICT ("projectId") DO UPDATE SET version = v.version + 1;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "VolumeBackup_bumpListVersion"
  AFTER INSERT OR UPDATE OR DELETE ON "VolumeBackup"
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "bumpBackupListVersion"();
