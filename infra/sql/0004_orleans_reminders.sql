-- Cocoon schema, migration 0004: reminders for Microsoft.Orleans.Reminders.AdoNet 10.4.2.
--
-- Contract (dotnet/orleans src/AdoNet/Shared/Storage/RelationalOrleansQueries.cs, DbStoredQueries.cs):
--   parameters  @ServiceId @GrainId @ReminderName @StartTime @Period (int or bigint milliseconds) @GrainHash
--               @BeginHash @EndHash (grain hashes as signed 32-bit) @Version
--   rows        GrainId ReminderName StartTime Period Version (by name); upsert returns Version;
--   delete-one returns one integer column, > 0 meaning the row with that version was deleted.

CREATE TABLE IF NOT EXISTS orleans_reminders
(
    service_id    varchar(150) NOT NULL,
    grain_id      varchar(150) NOT NULL,
    reminder_name varchar(150) NOT NULL,
    start_time    timestamptz  NOT NULL,
    period_ms     bigint       NOT NULL,
    grain_hash    integer      NOT NULL,
    version       integer      NOT NULL,
    CONSTRAINT pk_orleans_reminders PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Range reads (each silo owns a slice of the hash ring) are by service and grain hash.
CREATE INDEX IF NOT EXISTS ix_orleans_reminders_hash ON orleans_reminders (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminders AS r (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
VALUES (@ServiceId::varchar, @GrainId::varchar, @ReminderName::varchar, @StartTime::timestamptz, @Period::bigint,
        @GrainHash::integer, 0)
ON CONFLICT ON CONSTRAINT pk_orleans_reminders DO UPDATE
SET start_time = EXCLUDED.start_time, period_ms = EXCLUDED.period_ms, grain_hash = EXCLUDED.grain_hash,
    version = r.version + 1
RETURNING r.version AS Version;
$q$),

('ReadReminderRowsKey', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period,
       version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId::varchar AND grain_id = @GrainId::varchar;
$q$),

('ReadReminderRowKey', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period,
       version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId::varchar AND grain_id = @GrainId::varchar AND reminder_name = @ReminderName::varchar;
$q$),

-- The ring slice (begin, end] when begin < end.
('ReadRangeRows1Key', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period,
       version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId::varchar AND grain_hash > @BeginHash::integer AND grain_hash <= @EndHash::integer;
$q$),

-- The ring slice that wraps around: (begin, max] and [min, end].
('ReadRangeRows2Key', $q$
SELECT grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime, period_ms AS Period,
       version AS Version
FROM orleans_reminders
WHERE service_id = @ServiceId::varchar AND (grain_hash > @BeginHash::integer OR grain_hash <= @EndHash::integer);
$q$),

('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleans_reminders
    WHERE service_id = @ServiceId::varchar AND grain_id = @GrainId::varchar
      AND reminder_name = @ReminderName::varchar AND version = @Version::integer
    RETURNING 1)
SELECT count(*)::integer FROM deleted;
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminders WHERE service_id = @ServiceId::varchar;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
