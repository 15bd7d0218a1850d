/* runinfo.c — process resource figures via getrusage (see runinfo.h). */
#include "runinfo.h"

#include <sys/resource.h>

#include "backtest.h"

void cli_clock_start(cli_clock *c) { c->wall0 = stage_now(); }

void cli_clock_read(const cli_clock *c, double *wall_s, double *cpu_s, long *peak_rss_kb)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *wall_s = stage_now() - c->wall0;
    *cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
             (double)ru.ru_stime.tv_usec * 1e-6;
    *peak_rss_kb = ru.ru_maxrss;
}
