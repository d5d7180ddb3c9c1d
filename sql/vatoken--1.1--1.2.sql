/* vatoken--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vatoken UPDATE TO '1.2'" to load this file. \quit

-- 1.2 changes no table.  vatoken_list and vatoken_usage read with a snapshot
-- taken when they run (so that they see every committed flush of the counts
-- kept in shared memory), not the statement's: they are volatile.
ALTER FUNCTION @extschema@.vatoken_list(text) VOLATILE;
ALTER FUNCTION @extschema@.vatoken_usage(text, bigint) VOLATILE;
