/* timeutil.c — strict UTC date/timestamp parsing and formatting (see timeutil.h). */
#include "timeutil.h"

#include <stdio.h>

int64_t tu_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tu_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static int tu_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int tu_days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int tu_parse(const char *s, size_t len, int64_t *ts)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (len != 10 && len != 20) return -1;
    if (tu_digits(s, 4, &y) || s[4] != '-' || tu_digits(s + 5, 2, &mo) || s[7] != '-' ||
        tu_digits(s + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > tu_days_in_month(y, mo)) return -1;
    if (len == 20) {
        if (s[10] != 'T' || tu_digits(s + 11, 2, &hh) || s[13] != ':' || tu_digits(s + 14, 2, &mi) ||
            s[16] != ':' || tu_digits(s + 17, 2, &ss) || s[19] != 'Z')
            return -1;
        if (hh > 23 || mi > 59 || ss > 59) return -1;
    }
    *ts = tu_days_from_civil(y, (unsigned)mo, (unsigned)d) * TU_DAY + hh * 3600 + mi * 60 + ss;
    return 0;
}

int tu_parse_date(const char *s, int64_t *ts)
{
    size_t n = 0;
    while (s[n] && n < 11) n++;
    if (n != 10) return -1;
    return tu_parse(s, 10, ts);
}

int tu_format(int64_t ts, int date_only, char *buf)
{
    int64_t days = ts >= 0 ? ts / TU_DAY : -((-ts + TU_DAY - 1) / TU_DAY);
    int64_t sec = ts - days * TU_DAY;
    int y;
    unsigned m, d;
    tu_civil_from_days(days, &y, &m, &d);
    if (date_only) return snprintf(buf, 21, "%04d-%02u-%02u", y, m, d);
    return snprintf(buf, 21, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, (int)(sec / 3600),
                    (int)(sec / 60 % 60), (int)(sec % 60));
}
