/* runinfo.h — wall time, CPU time and peak RSS of the current process, for
 * the report's profile section and the CLI's summary line. */
#ifndef TB_CLI_RUNINFO_H
#define TB_CLI_RUNINFO_H

typedef struct cli_clock {
    double wall0;
} cli_clock;

void cli_clock_start(cli_clock *c);
/* Fill runtime (wall since start), cpu seconds and peak RSS KiB. */
void cli_clock_read(const cli_clock *c, double *wall_s, double *cpu_s, long *peak_rss_kb);

#endif
