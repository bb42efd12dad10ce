# shellcheck shell=bash
# MySQL/MariaDB edge-value corpus shared by the MySQL-source tests (200, 230): a table of
# every mapped type at its extremes (1 MB values, emoji, NULLs). Sourced: sets EDGE_COLS
# (a column list for CREATE TABLE) and EDGE_ROWS (a VALUES list).
EDGE_COLS="id int PRIMARY KEY, i8 tinyint, u8 tinyint unsigned, i16 smallint, u16 smallint unsigned,
	i24 mediumint, u24 mediumint unsigned, i32 int, u32 int unsigned, i64 bigint, u64 bigint unsigned,
	b tinyint(1), d65 decimal(65,30), d10 decimal(10,2), f float, g double, b1 bit(1), b64 bit(64),
	c char(10), v varchar(300), t longtext, bn binary(4), vb varbinary(16), bl longblob,
	e enum('a','b c','\xc3\xa9'), s set('x','y z','w'), j json, dt date, tm time(6), dtm datetime(6),
	ts timestamp(3) NULL, y year, u uuid, l1 varchar(10) CHARACTER SET latin1"
# ids 1..6: extremes, the other extremes, zero/empty values, NULLs, emoji, 1 MB values
EDGE_ROWS="
(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
 18446744073709551615, 1, -0.000000000000000000000000000001, -99999999.99, 3.4028234663852886e38,
 -1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
 'char', 'tab\there\nnewline \\\\ back', 'longtext', 'ab', 0x00ff00, 0x00, 'b c', 'x,w',
 '{\"a\": [1, 2.5, null]}', '1000-01-01', '-838:59:59.000000', '9999-12-31 23:59:59.999999',
 '2038-01-19 03:14:07.999', 2155, 'e9a1c50b-0b7c-4a72-a1d4-5b9b3d1f3a00', 'caf\xc3\xa9'),
(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0,
 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, 1.17549435e-38,
 4.9406564584124654e-324, b'0', b'0', 'x', 'y', 'z', 'abcd', 0xdeadbeef, 0xdeadbeef, 'a', 'x,y z,w',
 '[]', '9999-12-31', '838:59:59', '1000-01-01 00:00:00', '1970-01-01 00:00:01', 1901,
 '00000000-0000-0000-0000-000000000000', ''),
(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', b'0', '', '', '', '', '', '', '\xc3\xa9', '', '{}',
 '2024-02-29', '-00:00:00.000001', '2024-02-29 00:00:00', '2001-02-03 04:05:06', 0,
 '6ccd780c-baba-1026-9564-5b8c656024db', 'x'),
(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.5, 1.5, 0.1, 0.1, b'1', b'101', '\xf0\x9f\x98\x80',
 REPEAT('\xf0\x9f\x98\x80', 300), CONCAT('emoji \xf0\x9f\x98\x80 ', REPEAT('\xc3\xbc', 1000)), 'a', 'b', 'c', 'a', 'x',
 '\"\xf0\x9f\x98\x80\"', '2000-01-01', '12:34:56.789', '2000-01-01 12:34:56.789', '2000-01-01 12:34:56.789', 2000,
 '12345678-9abc-4ef0-9234-56789abcdef0', 'abc'),
(6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, REPEAT('m', 1048576), NULL, NULL, REPEAT(0xab, 1048576), NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL)"
EDGE_ROWS=$(printf "%b" "$EDGE_ROWS")
EDGE_COLS=$(printf "%b" "$EDGE_COLS")
