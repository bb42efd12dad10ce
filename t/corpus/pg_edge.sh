# shellcheck shell=bash
# shellcheck disable=SC2034 # PG_EDGE_SQL is for the tests that source this file
# PostgreSQL edge-value corpus shared by the PostgreSQL-source tests (210, 230): an enum
# type and a table of every mapped type at its extremes. Sourced: sets PG_EDGE_SQL, the
# statements that create and fill them.
PG_EDGE_SQL="
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE edge (
	id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, num numeric, num2 numeric(12,2),
	f4 real, f8 double precision, t text, vc varchar(20), ch char(5), b bytea, flag boolean,
	d date, ts timestamp(6), tstz timestamptz, tm time, u uuid, j json, jb jsonb, m mood,
	ai int[], at text[], iv interval, bt bit(9), ip inet);
INSERT INTO edge VALUES
 (1, -32768, -2147483648, -9223372036854775808, '12345678901234567890123456789012345.123456789012345678901234567890',
  -9999999999.99, '3.4028235e38', '1.7976931348623157e308', 'emoji 😀 tab	nl
 bs\\ q'' dq\" end', '', 'ab', '\\x00ff0a5c09', true, '0001-01-01', '1999-12-31 23:59:59.999999',
  '2024-02-29 12:34:56.789012+05:30', '23:59:59.999999', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{\"k\": [1, 2.5, \"é\"], \"n\": null}', '{\"b\": {\"c\": true}, \"a\": 12345678901234567890}', 'happy',
  '{1,NULL,-3}', '{\"a b\",NULL,\"q\\\"x\",\"\",\"c,d\"}', '1 year 2 mons 3 days 04:05:06.5', B'100000001',
  '192.168.0.1/24'),
 (2, 32767, 2147483647, 9223372036854775807, '-0.000000000000000000000000000001', 0, '-1.1754944e-38',
  '4.9e-324', '', 'x', '', '', false, '9999-12-31', '1970-01-01 00:00:00', '1969-12-31 23:59:59.5+00',
  '24:00:00', '00000000-0000-0000-0000-000000000000', '[]', '\"\"', 'sad', '{}', '{\"\"}', '00:00:00',
  B'000000000', '::1'),
 (3, 0, 0, 0, 0, 0.5, '0.1', '2.2250738585072014e-308', repeat('m', 1048576), NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, '{{1,2},{3,4}}', NULL, NULL, NULL, NULL),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"
