-- Cocoon schema, migration 0001: the table of named queries that the Orleans AdoNet providers read at start-up.
--
-- Orleans 10 reads `SELECT QueryKey, QueryText FROM OrleansQuery` (DbStoredQueries.GetQueriesKey) and refuses to
-- start when a key it needs is missing. The table name and its two columns are therefore fixed by Orleans; every
-- other table and every query text in this folder is the project's own.
-- Queries are registered with an upsert so that a later migration can redefine one by inserting it again.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64)   NOT NULL,
    QueryText varchar(8000) NOT NULL,
    CONSTRAINT pk_orleans_query PRIMARY KEY (QueryKey)
);
