/* csv_reader.c — strict, fast CSV directory reader (see csv_reader.h).
 * Rules (SPEC §1.1): exact header; 6 fields a row; dates strictly ascending;
 * numbers finite; prices > 0; volume >= 0; high >= max(open, close) and
 * low <= min(open, close) within 1e-9 relative. A trailing newline at EOF is
 * fine, CRLF line ends are accepted; an empty line anywhere else is an error. */
#include "csv_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numfmt.h"
#include "timeutil.h"
#include "xalloc.h"

static const char csv_header[] = "date,open,high,low,close,volume";

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void csv_free_names(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int csv_list_symbols(const char *dir, char ***names, size_t *n, tb_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return tb_fail_field(err, TB_EINVAL, "data", "cannot open data directory %s: %s", dir, strerror(errno));
    size_t cap = 64, cnt = 0;
    char **v = xmalloc(cap * sizeof *v);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".csv") || e->d_name[0] == '.') continue;
        if (cnt == cap) v = xrealloc(v, xmul(cap *= 2, sizeof *v));
        v[cnt] = xmalloc(len - 3);
        memcpy(v[cnt], e->d_name, len - 4);
        v[cnt][len - 4] = '\0';
        cnt++;
    }
    closedir(d);
    if (cnt == 0) {
        free(v);
        return tb_fail_field(err, TB_EINVAL, "data", "no <SYMBOL>.csv files in %s", dir);
    }
    qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}

/* Split one line [p, end) into exactly 6 fields. Returns the field count found
 * (stops counting at 7). */
static int csv_split(const char *p, const char *end, const char **f, size_t *flen)
{
    int k = 0;
    const char *s = p;
    for (const char *q = p;; q++) {
        if (q == end || *q == ',') {
            if (k < 6) {
                f[k] = s;
                flen[k] = (size_t)(q - s);
            }
            k++;
            if (q == end || k > 6) break;
            s = q + 1;
        }
    }
    return k;
}

static const char *const csv_cols[6] = {"date", "open", "high", "low", "close", "volume"};

int csv_parse_buffer(const char *path, const char *buf, size_t len, tb_freq freq, const char *symbol,
                     tb_market *m, tb_error *err)
{
    const char *p = buf, *end = buf + len;
    const char *nl = memchr(p, '\n', len);
    const char *hend = nl ? nl : end;
    size_t hlen = (size_t)(hend - p);
    if (hlen && p[hlen - 1] == '\r') hlen--;
    if (hlen != sizeof csv_header - 1 || memcmp(p, csv_header, hlen))
        return tb_fail(err, TB_EINVAL, "%s:1: header must be exactly '%s'", path, csv_header);
    p = nl ? nl + 1 : end;

    /* a cheap upper bound on the row count: one reserve, no per-bar growth */
    size_t est = 0;
    for (const char *q = p; q < end; q++) est += *q == '\n';
    market_reserve(m, est + 1);
    size_t start_bars = m->n_bars;
    market_add_symbol(m, symbol);

    const size_t ts_len = freq == TB_FREQ_1D ? 10 : 20;
    int64_t prev_ts = INT64_MIN;
    size_t line = 1;
    while (p < end) {
        line++;
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *le = e ? e : end;
        if (le > p && le[-1] == '\r') le--;
        const char *f[6];
        size_t fl[6];
        if (le == p) goto bad_empty;
        int nf = csv_split(p, le, f, fl);
        if (nf != 6)
            return tb_fail(err, TB_EINVAL, "%s:%zu: expected 6 columns (%s), found %s%d", path, line,
                           csv_header, nf > 6 ? "more than " : "", nf > 6 ? 6 : nf);
        int64_t ts;
        if (fl[0] != ts_len || tu_parse(f[0], fl[0], &ts))
            return tb_fail(err, TB_EINVAL, "%s:%zu: bad date '%.*s' (expected %s)", path, line,
                           (int)(fl[0] > 40 ? 40 : fl[0]), f[0],
                           freq == TB_FREQ_1D ? "YYYY-MM-DD" : "YYYY-MM-DDTHH:MM:SSZ");
        if (ts <= prev_ts)
            return tb_fail(err, TB_EINVAL, "%s:%zu: %s date '%.*s'", path, line,
                           ts == prev_ts ? "duplicate" : "out-of-order", (int)fl[0], f[0]);
        prev_ts = ts;
        double v[5];
        for (int k = 0; k < 5; k++) {
            if (nf_parse(f[k + 1], fl[k + 1], &v[k]))
                return tb_fail(err, TB_EINVAL, "%s:%zu: column %s: '%.*s' is not a finite number", path,
                               line, csv_cols[k + 1], (int)(fl[k + 1] > 40 ? 40 : fl[k + 1]), f[k + 1]);
        }
        for (int k = 0; k < 4; k++)
            if (!(v[k] > 0))
                return tb_fail(err, TB_EINVAL, "%s:%zu: column %s: price %.17g must be > 0", path, line,
                               csv_cols[k + 1], v[k]);
        if (v[4] < 0)
            return tb_fail(err, TB_EINVAL, "%s:%zu: column volume: %.17g must be >= 0", path, line, v[4]);
        double o = v[0], h = v[1], l = v[2], c = v[3];
        double mx = o > c ? o : c, mn = o < c ? o : c;
        if (mx - h > 1e-9 * mx)
            return tb_fail(err, TB_EINVAL, "%s:%zu: high %.17g < max(open, close) %.17g", path, line, h, mx);
        if (l - mn > 1e-9 * mn)
            return tb_fail(err, TB_EINVAL, "%s:%zu: low %.17g > min(open, close) %.17g", path, line, l, mn);
        market_push_bar(m, ts, o, h, l, c, v[4]);
        p = e ? e + 1 : end;
        continue;
    bad_empty:
        if (e && e + 1 == end) break; /* a lone trailing "\r\n" */
        return tb_fail(err, TB_EINVAL, "%s:%zu: empty line", path, line);
    }
    if (m->n_bars == start_bars) return tb_fail(err, TB_EINVAL, "%s:2: no data rows", path);
    return 0;
}

/* Read a whole file into *buf (grown as needed). */
static int csv_slurp(const char *path, char **buf, size_t *cap, size_t *len, tb_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tb_fail_field(err, errno == ENOENT ? TB_EINVAL : TB_EIO, "symbols", "cannot open %s: %s", path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return tb_fail(err, TB_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    size_t want = (size_t)st.st_size + 1;
    if (want > *cap) {
        *cap = want;
        *buf = xrealloc(*buf, want);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            close(fd);
            return tb_fail(err, TB_EIO, "cannot read %s: %s", path, r < 0 ? strerror(errno) : "short read");
        }
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return 0;
}

int csv_load(const char *dir, const char *const *symbols, size_t n, tb_freq freq, tb_market **out,
             tb_error *err)
{
    tb_market *m = market_new(freq, n, 0);
    char *buf = NULL, path[4096];
    size_t cap = 0, len = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, symbols[i]);
        if (csv_slurp(path, &buf, &cap, &len, err)) goto out;
        if (csv_parse_buffer(path, buf, len, freq, symbols[i], m, err)) goto out;
    }
    market_finish(m);
    *out = m;
    m = NULL;
    rc = 0;
out:
    free(buf);
    market_free(m);
    return rc;
}
