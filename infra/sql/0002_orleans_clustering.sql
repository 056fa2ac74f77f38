-- Cocoon schema, migration 0002: cluster membership for Microsoft.Orleans.Clustering.AdoNet 10.4.2.
--
-- Contract (read from dotnet/orleans src/AdoNet/Shared/Storage/DbStoredQueries.cs and RelationalOrleansQueries.cs):
--   parameters  @DeploymentId @Address @Port @Generation @SiloName @HostName @Status @ProxyPort @SuspectTimes
--               @StartTime @IAmAliveTime @Version
--   row columns DeploymentId Address Port Generation SiloName HostName Status ProxyPort SuspectTimes StartTime
--               IAmAliveTime Version (read by name); the gateway query returns Address ProxyPort Generation;
--   insert/update/version queries return one integer column, > 0 meaning success.
-- The membership protocol needs "write a silo row and bump the table version" to be all-or-nothing. Here that is one
-- statement: the version row is locked with the expected version (FOR UPDATE re-checks it after any concurrent
-- change), the silo row is written only through that lock, and the version is bumped only if the write happened.

CREATE TABLE IF NOT EXISTS orleans_membership_version
(
    deployment_id varchar(150) NOT NULL,
    changed_at    timestamptz  NOT NULL DEFAULT now(),
    version       integer      NOT NULL DEFAULT 0,
    CONSTRAINT pk_orleans_membership_version PRIMARY KEY (deployment_id)
);

CREATE TABLE IF NOT EXISTS orleans_membership
(
    deployment_id  varchar(150)  NOT NULL,
    address        varchar(45)   NOT NULL,
    port           integer       NOT NULL,
    generation     integer       NOT NULL,
    silo_name      varchar(150)  NOT NULL,
    host_name      varchar(150)  NOT NULL,
    status         integer       NOT NULL,
    proxy_port     integer       NULL,
    suspect_times  varchar(8000) NULL,
    start_time     timestamptz   NOT NULL,
    i_am_alive_at  timestamptz   NOT NULL,
    CONSTRAINT pk_orleans_membership PRIMARY KEY (deployment_id, address, port, generation),
    CONSTRAINT fk_orleans_membership_version FOREIGN KEY (deployment_id)
        REFERENCES orleans_membership_version (deployment_id)
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('InsertMembershipVersionKey', $q$
WITH inserted AS (
    INSERT INTO orleans_membership_version (deployment_id)
    VALUES (@DeploymentId::varchar)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1)
SELECT count(*)::integer FROM inserted;
$q$),

('InsertMembershipKey', $q$
WITH locked AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId::varchar AND version = @Version::integer
    FOR UPDATE),
written AS (
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status,
                                    proxy_port, start_time, i_am_alive_at)
    SELECT deployment_id, @Address::varchar, @Port::integer, @Generation::integer, @SiloName::varchar,
           @HostName::varchar, @Status::integer, @ProxyPort::integer, @StartTime::timestamptz,
           @IAmAliveTime::timestamptz
    FROM locked
    ON CONFLICT (deployment_id, address, port, generation) DO NOTHING
    RETURNING deployment_id),
bumped AS (
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now()
    WHERE deployment_id IN (SELECT deployment_id FROM written)
    RETURNING 1)
SELECT count(*)::integer FROM bumped;
$q$),

('UpdateMembershipKey', $q$
WITH locked AS (
    SELECT deployment_id FROM orleans_membership_version
    WHERE deployment_id = @DeploymentId::varchar AND version = @Version::integer
    FOR UPDATE),
written AS (
    UPDATE orleans_membership
    SET status = @Status::integer, suspect_times = @SuspectTimes::varchar, i_am_alive_at = @IAmAliveTime::timestamptz
    WHERE deployment_id IN (SELECT deployment_id FROM locked)
      AND address = @Address::varchar AND port = @Port::integer AND generation = @Generation::integer
    RETURNING deployment_id),
bumped AS (
    UPDATE orleans_membership_version SET version = version + 1, changed_at = now()
    WHERE deployment_id IN (SELECT deployment_id FROM written)
    RETURNING 1)
SELECT count(*)::integer FROM bumped;
$q$),

('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership SET i_am_alive_at = @IAmAliveTime::timestamptz
WHERE deployment_id = @DeploymentId::varchar AND address = @Address::varchar
  AND port = @Port::integer AND generation = @Generation::integer;
$q$),

('MembershipReadRowKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_at AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address::varchar AND m.port = @Port::integer AND m.generation = @Generation::integer
WHERE v.deployment_id = @DeploymentId::varchar;
$q$),

('MembershipReadAllKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_at AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId::varchar;
$q$),

('GatewaysQueryKey', $q$
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar AND status = @Status::integer AND proxy_port > 0;
$q$),

('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_membership WHERE deployment_id = @DeploymentId::varchar;
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId::varchar;
$q$),

-- Status 3 is SiloStatus.Active: rows of silos that stopped heart-beating long ago are removed, live ones never.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar AND i_am_alive_at < @IAmAliveTime::timestamptz AND status <> 3;
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText;
