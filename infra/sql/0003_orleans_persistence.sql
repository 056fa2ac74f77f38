-- Cocoon schema, migration 0003: grain state for Microsoft.Orleans.Persistence.AdoNet 10.4.2.
--
-- Contract (dotnet/orleans src/AdoNet/Orleans.Persistence.AdoNet/Storage/Provider/AdoNetGrainStorage.cs):
--   parameters  @GrainIdHash @GrainIdN0 @GrainIdN1 @GrainTypeHash @GrainTypeString @GrainIdExtensionString
--               @ServiceId @GrainStateVersion @PayloadBinary
--   read returns PayloadBinary and Version by name; write, clear and delete return NewGrainStateVersion.
--   A write whose returned version equals the grain's ETag (or is empty) is a version conflict.
-- Unlike the Orleans sample script, a grain's row is unique by constraint (the id extension is stored as '' when
-- absent, so it can be part of the key): a first write is a plain INSERT ... ON CONFLICT DO NOTHING, no table scan,
-- and two activations racing to create the same state cannot both succeed.
-- Timestamps are timestamptz from the start (Npgsql 6+ is strict about DateTime.Kind; orleans.md section 2).

CREATE TABLE IF NOT EXISTS orleans_storage
(
    service_id         varchar(150) NOT NULL,
    grain_type_hash    integer      NOT NULL,
    grain_type         varchar(512) NOT NULL,
    grain_id_hash      integer      NOT NULL,
    grain_id_n0        bigint       NOT NULL,
    grain_id_n1        bigint       NOT NULL,
    grain_id_extension varchar(512) NOT NULL DEFAULT '',
    payload            bytea        NULL,
    version            integer      NOT NULL,
    modified_at        timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_orleans_storage
        PRIMARY KEY (service_id, grain_type_hash, grain_id_hash, grain_id_n0, grain_id_n1, grain_type, grain_id_extension)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
SELECT payload AS PayloadBinary, modified_at AS ModifiedOn, version AS Version
FROM orleans_storage
WHERE service_id = @ServiceId::varchar AND grain_type_hash = @GrainTypeHash::integer
  AND grain_id_hash = @GrainIdHash::integer AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND grain_type = @GrainTypeString::varchar AND grain_id_extension = coalesce(@GrainIdExtensionString::varchar, '');
$q$),

('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleans_storage
    SET payload = @PayloadBinary::bytea, version = version + 1, modified_at = now()
    WHERE @GrainStateVersion::integer IS NOT NULL AND version = @GrainStateVersion::integer
      AND service_id = @ServiceId::varchar AND grain_type_hash = @GrainTypeHash::integer
      AND grain_id_hash = @GrainIdHash::integer AND grain_id_n0 = @GrainIdN0::bigint
      AND grain_id_n1 = @GrainIdN1::bigint AND grain_type = @GrainTypeString::varchar
      AND grain_id_extension = coalesce(@GrainIdExtensionString::varchar, '')
    RETURNING version),
inserted AS (
    INSERT INTO orleans_storage (service_id, grain_type_hash, grain_type, grain_id_hash, grain_id_n0, grain_id_n1,
                                 grain_id_extension, payload, version)
    SELECT @ServiceId::varchar, @GrainTypeHash::integer, @GrainTypeString::varchar, @GrainIdHash::integer,
           @GrainIdN0::bigint, @GrainIdN1::bigint, coalesce(@GrainIdExtensionString::varchar, ''),
           @PayloadBinary::bytea, 1
    WHERE @GrainStateVersion::integer IS NULL
    ON CONFLICT ON CONSTRAINT pk_orleans_storage DO NOTHING
    RETURNING version)
SELECT CASE WHEN @GrainStateVersion::integer IS NULL THEN (SELECT version FROM inserted)
            ELSE coalesce((SELECT version FROM updated), @GrainStateVersion::integer)
       END AS NewGrainStateVersion;
$q$),

('ClearStorageKey', $q$
UPDATE orleans_storage
SET payload = NULL, version = version + 1, modified_at = now()
WHERE version = @GrainStateVersion::integer
  AND service_id = @ServiceId::varchar AND grain_type_hash = @GrainTypeHash::integer
  AND grain_id_hash = @GrainIdHash::integer AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND grain_type = @GrainTypeString::varchar AND grain_id_extension = coalesce(@GrainIdExtensionString::varchar, '')
RETURNING version AS NewGrainStateVersion;
$q$),

('DeleteStorageKey', $q$
DELETE FROM orleans_storage
WHERE version = @GrainStateVersion::integer
  AND service_id = @ServiceId::varchar AND grain_type_hash = @GrainTypeHash::integer
  AND grain_id_hash = @GrainIdHash::integer AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND grain_type = @GrainTypeString::varchar AND grain_id_extension = coalesce(@GrainIdExtensionString::varchar, '')
RETURNING version + 1 AS NewGrainStateVersion;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
