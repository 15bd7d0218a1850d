/* timeutil.h — timestamps as int64 seconds since 1970-01-01T00:00:00Z (UTC,
 * no time zones, no leap seconds). Daily bars sit at midnight UTC. Parsing is
 * strict (exact field widths, valid calendar dates); formatting writes
 * `YYYY-MM-DD` for 1d and `YYYY-MM-DDTHH:MM:SSZ` for intraday. */
#ifndef TB_TIMEUTIL_H
#define TB_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Days since epoch for a proleptic Gregorian date (Howard Hinnant's algorithm). */
int64_t tu_days_from_civil(int y, unsigned m, unsigned d);
void tu_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* Parse `YYYY-MM-DD` (len 10) or `YYYY-MM-DDTHH:MM:SSZ` (len 20) from s[0..len).
 * Returns 0 and *ts on success, -1 on a malformed or impossible value. */
int tu_parse(const char *s, size_t len, int64_t *ts);
/* Parse a date only (`YYYY-MM-DD`, NUL-terminated). */
int tu_parse_date(const char *s, int64_t *ts);

/* Write the timestamp into buf (>= 21 bytes); date_only selects `YYYY-MM-DD`.
 * Returns the length written. */
int tu_format(int64_t ts, int date_only, char *buf);

#define TU_DAY 86400
#endif
