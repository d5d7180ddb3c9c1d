-- setup.sql — the database side of the examples, run once by a superuser:
--
--   psql -d app -f examples/api-server/setup.sql
--
-- Roles:
--   api_server            LOGIN: the API server; may only verify tokens and
--                         read the demo data.
--   api_settings_manager  NOLOGIN: the permission "Can Manage API Settings".
--   webapp                LOGIN NOINHERIT: the settings page's login role.
--                         It is a member of every staff role but, being
--                         NOINHERIT, holds none of their privileges until it
--                         runs SET ROLE staff_... for the signed-in user.
--   staff_alice           NOLOGIN, has the permission.
--   staff_bob             NOLOGIN, does not.
CREATE EXTENSION IF NOT EXISTS vatoken;

CREATE ROLE api_server LOGIN;
GRANT EXECUTE ON FUNCTION vatoken_verify(text, text[], inet) TO api_server;

CREATE ROLE api_settings_manager NOLOGIN;
GRANT EXECUTE ON FUNCTION vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval),
                          vatoken_update(text, bigint, text, timestamptz, text[], cidr[], boolean, integer, interval),
                          vatoken_rotate(text, bigint, interval),
                          vatoken_list(text),
                          vatoken_usage(text, bigint),
                          vatoken_usage_daily(text, bigint, date, date),
                          vatoken_delete(text, bigint)
   TO api_settings_manager;

CREATE ROLE webapp LOGIN NOINHERIT;
CREATE ROLE staff_alice NOLOGIN IN ROLE api_settings_manager;
CREATE ROLE staff_bob NOLOGIN;
GRANT staff_alice, staff_bob TO webapp;

-- The tenant data the API serves: each row belongs to one owner.
CREATE TABLE flights (
    owner      text NOT NULL,
    flight     text NOT NULL,
    origin     text NOT NULL,
    dest       text NOT NULL,
    departs_at timestamptz NOT NULL
);
GRANT SELECT ON flights TO api_server;
INSERT INTO flights VALUES
    ('airline-42', 'VA042', 'LHR', 'JFK', '2026-12-01 09:00+00'),
    ('airline-42', 'VA043', 'JFK', 'LHR', '2026-12-01 19:30+00'),
    ('airline-7',  'SE007', 'CDG', 'NRT', '2026-12-02 11:15+00');
