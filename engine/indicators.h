/* indicators.h — SPEC §2 technical indicators over one symbol's bar sequence.
 * Array functions write n values into a caller-provided `out` (no allocation);
 * indices before the first defined index are NaN. Point functions compute the
 * value at one index straight from its window definition (used by the cost
 * model, which needs a few values per order, not whole arrays). Conventions
 * follow TA-Lib / TTR: EMA seeded with the SMA, Wilder smoothing for ATR/RSI. */
#ifndef TB_INDICATORS_H
#define TB_INDICATORS_H
#include <stddef.h>

/* SMA(x,n): first defined at n-1. */
void ind_sma(const double *x, size_t len, int n, double *out);
/* EMA(x,n): alpha = 2/(n+1), seeded with SMA at n-1. */
void ind_ema(const double *x, size_t len, int n, double *out);
/* EMA(x,n1) into out1 and EMA(x,n2) into out2 in one pass over x: the two
 * recursions interleaved (independent chains: about half the time of two
 * ind_ema calls, whose latency-bound chain leaves the FPU idle), each value
 * exactly ind_ema's, bit for bit (warm-up NaNs and seeds included). Any
 * periods, equal or in either order; out1 and out2 must not overlap. */
void ind_ema2(const double *x, size_t len, int n1, int n2, double *out1, double *out2);
/* The same with four: EMA(x,n[k]) into out[k], k < 4 (a quarter of the
 * time of four ind_ema calls, bit for bit theirs); out[] must not overlap. */
void ind_ema4(const double *x, size_t len, const int *n, double *const *out);
/* TR: first defined at 1. */
void ind_tr(const double *h, const double *l, const double *c, size_t len, double *out);
/* ATR(n): mean of TR_1..TR_n at n, then Wilder smoothing. */
void ind_atr(const double *h, const double *l, const double *c, size_t len, int n, double *out);
/* RSI(n): Wilder; AL = 0 -> 100; AG = AL = 0 -> 50. First defined at n. */
void ind_rsi(const double *c, size_t len, int n, double *out);
/* LOGRET(k): ln(C_t / C_{t-k}), first defined at k. */
void ind_logret(const double *c, size_t len, int k, double *out);
/* VOL(n): sample std (ddof 1) of LOGRET(1) over t-n+1..t, first defined at n. */
void ind_vol(const double *c, size_t len, int n, double *out);
/* ADV(n) = SMA(V,n). */
void ind_adv(const double *v, size_t len, int n, double *out);
/* SPREAD(n): Abdi-Ranaldo estimate in bps, first defined at n. */
void ind_spread(const double *h, const double *l, const double *c, size_t len, int n, double *out);

/* A whole indicator array named by kind and period, for caches of computed
 * arrays (the factor store, sweeps): EMA(C,n), SMA(C,n), ATR(n). */
typedef enum { IND_EMA = 1, IND_SMA = 2, IND_ATR = 3 } ind_kind;
typedef struct ind_key {
    int kind; /* ind_kind */
    int n;    /* period */
} ind_key;

/* out[0..len) = the array of k over one series (h, l, c: its bars). */
void ind_compute(ind_key k, const double *h, const double *l, const double *c, size_t len, double *out);
/* "ema(20)", "atr(14)" into buf; returns buf. */
const char *ind_key_name(ind_key k, char *buf, size_t n);

/* Point versions: the value at index t (NaN when undefined at t). */
double ind_sma_at(const double *x, size_t t, int n);
double ind_vol_at(const double *c, size_t t, int n);
double ind_spread_at(const double *h, const double *l, const double *c, size_t t, int n);

#endif
