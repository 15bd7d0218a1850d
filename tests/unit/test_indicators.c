/* test_indicators.c — SPEC §2 indicators against values worked out by hand.
 * Every expected number below comes from the arithmetic in the comment next
 * to it (exact fractions where the definition allows; the logs for LOGRET,
 * VOL and SPREAD are written out and evaluated once to 17 digits). Each test
 * checks the first defined index, NaN before it, the values after it (1e-12
 * relative), that nothing is written past `len`, and that the `_at` point
 * versions agree with the array versions. Stack arrays only: nothing to free. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>

#include "indicators.h"

#define LEN 8
#define GUARD 12345.0 /* written at out[len]; an indicator must never touch it */

/* The shared 8-bar series. Bars (H, L, C):
 *   t : 0     1     2     3     4     5     6     7
 *   H : 10.5  11.5  12.5  11.5  13.5  14.5  14    15
 *   L : 9.5   10.5  11    10    12    13    12    14
 *   C : 10    11    12    11    13    14    13    15
 *   V : 100   200   300   400   0     600   500   700 */
static const double H[LEN] = {10.5, 11.5, 12.5, 11.5, 13.5, 14.5, 14, 15};
static const double L[LEN] = {9.5, 10.5, 11, 10, 12, 13, 12, 14};
static const double C[LEN] = {10, 11, 12, 11, 13, 14, 13, 15};
static const double V[LEN] = {100, 200, 300, 400, 0, 600, 500, 700};

/* got[t] vs want[t] for t < len: NaN where want is NaN, else 1e-12 relative
 * (absolute near zero); got[len] must still hold the guard. */
static void check_series(const char *name, const double *got, const double *want, size_t len)
{
    for (size_t t = 0; t < len; t++) {
        if (isnan(want[t])) {
            cr_expect(isnan(got[t]), "%s[%zu] = %.17g, expected NaN (undefined)", name, t, got[t]);
        } else {
            double tol = 1e-12 * fmax(1.0, fabs(want[t]));
            cr_expect(fabs(got[t] - want[t]) <= tol, "%s[%zu] = %.17g, expected %.17g", name, t, got[t],
                      want[t]);
        }
    }
    cr_expect(got[len] == GUARD, "%s wrote past len (out[%zu] = %.17g)", name, len, got[len]);
}

static void guard_init(double *out, size_t n_plus_1)
{
    for (size_t t = 0; t < n_plus_1; t++) out[t] = GUARD;
}

/* point version vs expected: NaN or 1e-12 relative */
static void check_point(const char *name, double got, double want, size_t t)
{
    if (isnan(want)) {
        cr_expect(isnan(got), "%s(t=%zu) = %.17g, expected NaN", name, t, got);
    } else {
        cr_expect(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)), "%s(t=%zu) = %.17g, expected %.17g",
                  name, t, got, want);
    }
}

/* ---------------------------------------------------------------- SMA / ADV */

Test(indicators, sma_period3)
{
    /* SMA(C,3), first defined at n-1 = 2:
     *   t2 (10+11+12)/3 = 11       t3 (11+12+11)/3 = 34/3
     *   t4 (12+11+13)/3 = 12       t5 (11+13+14)/3 = 38/3
     *   t6 (13+14+13)/3 = 40/3     t7 (14+13+15)/3 = 14 */
    const double want[LEN] = {NAN, NAN, 11, 34.0 / 3, 12, 38.0 / 3, 40.0 / 3, 14};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_sma(C, LEN, 3, out);
    check_series("SMA3", out, want, LEN);
    for (size_t t = 0; t < LEN; t++) check_point("sma_at", ind_sma_at(C, t, 3), want[t], t);
}

Test(indicators, sma_period1_is_identity)
{
    /* SMA(x,1)_t = x_t, first defined at 0 */
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_sma(C, LEN, 1, out);
    check_series("SMA1", out, C, LEN);
}

Test(indicators, adv_period3)
{
    /* ADV(V,3) = SMA(V,3), first at 2:
     *   t2 (100+200+300)/3 = 200   t3 (200+300+400)/3 = 300
     *   t4 (300+400+0)/3 = 700/3   t5 (400+0+600)/3 = 1000/3
     *   t6 (0+600+500)/3 = 1100/3  t7 (600+500+700)/3 = 600 */
    const double want[LEN] = {NAN, NAN, 200, 300, 700.0 / 3, 1000.0 / 3, 1100.0 / 3, 600};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_adv(V, LEN, 3, out);
    check_series("ADV3", out, want, LEN);
}

/* ---------------------------------------------------------------- EMA */

Test(indicators, ema_seeded_with_sma)
{
    /* EMA(C,4): alpha = 2/5 = 0.4; first at n-1 = 3, seeded with SMA:
     *   t3 (10+11+12+11)/4 = 11
     *   t4 0.4*13 + 0.6*11     = 5.2 + 6.6    = 11.8
     *   t5 0.4*14 + 0.6*11.8   = 5.6 + 7.08   = 12.68
     *   t6 0.4*13 + 0.6*12.68  = 5.2 + 7.608  = 12.808
     *   t7 0.4*15 + 0.6*12.808 = 6 + 7.6848   = 13.6848 */
    const double want[LEN] = {NAN, NAN, NAN, 11, 11.8, 12.68, 12.808, 13.6848};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_ema(C, LEN, 4, out);
    check_series("EMA4", out, want, LEN);
}

Test(indicators, ema_period3)
{
    /* EMA(C,3): alpha = 0.5; t2 = SMA = 11; t3 .5*11+.5*11 = 11; t4 .5*13+.5*11 = 12;
     * t5 .5*14+.5*12 = 13; t6 .5*13+.5*13 = 13; t7 .5*15+.5*13 = 14 */
    const double want[LEN] = {NAN, NAN, 11, 11, 12, 13, 13, 14};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_ema(C, LEN, 3, out);
    check_series("EMA3", out, want, LEN);
}

/* ---------------------------------------------------------------- TR / ATR */

Test(indicators, true_range)
{
    /* TR_t = max(H-L, |H-C_{t-1}|, |L-C_{t-1}|), first at 1:
     *   t1 max(1,   |11.5-10|=1.5, |10.5-10|=0.5) = 1.5
     *   t2 max(1.5, |12.5-11|=1.5, |11-11|=0)     = 1.5
     *   t3 max(1.5, |11.5-12|=0.5, |10-12|=2)     = 2    (gap down: the low term)
     *   t4 max(1.5, |13.5-11|=2.5, |12-11|=1)     = 2.5  (gap up: the high term)
     *   t5 max(1.5, |14.5-13|=1.5, |13-13|=0)     = 1.5
     *   t6 max(2,   |14-14|=0,     |12-14|=2)     = 2
     *   t7 max(1,   |15-13|=2,     |14-13|=1)     = 2 */
    const double want[LEN] = {NAN, 1.5, 1.5, 2, 2.5, 1.5, 2, 2};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_tr(H, L, C, LEN, out);
    check_series("TR", out, want, LEN);
}

Test(indicators, atr_wilder)
{
    /* ATR(3), first at n = 3: ATR_3 = (TR1+TR2+TR3)/3 = (1.5+1.5+2)/3 = 5/3
     *   ATR_4 = (2*5/3   + 2.5)/3 = 35/18
     *   ATR_5 = (2*35/18 + 1.5)/3 = (70/18 + 27/18)/3  = 97/54
     *   ATR_6 = (2*97/54 + 2)/3   = (194/54 + 108/54)/3 = 151/81
     *   ATR_7 = (2*151/81 + 2)/3  = (302/81 + 162/81)/3 = 464/243 */
    const double want[LEN] = {NAN, NAN, NAN, 5.0 / 3, 35.0 / 18, 97.0 / 54, 151.0 / 81, 464.0 / 243};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_atr(H, L, C, LEN, 3, out);
    check_series("ATR3", out, want, LEN);
}

/* ---------------------------------------------------------------- RSI */

Test(indicators, rsi_wilder)
{
    /* C diffs t1..t7: +1 +1 -1 +2 +1 -1 +2 -> g = 1 1 0 2 1 0 2, l = 0 0 1 0 0 1 0.
     * RSI(3), first at 3:
     *   AG3 = 2/3, AL3 = 1/3: RS = 2,          RSI = 100 - 100/3       = 200/3
     *   AG4 = (2*2/3+2)/3 = 10/9, AL4 = (2*1/3)/3 = 2/9: RS = 5, RSI = 100 - 100/6 = 250/3
     *   AG5 = (20/9+1)/3 = 29/27, AL5 = (4/9)/3 = 4/27: RS = 29/4, RSI = 100 - 400/33 = 2900/33
     *   AG6 = (58/27)/3 = 58/81, AL6 = (8/27+1)/3 = 35/81: RS = 58/35, RSI = 100 - 3500/93 = 5800/93
     *   AG7 = (116/81+2)/3 = 278/243, AL7 = (70/81)/3 = 70/243: RS = 139/35,
     *       RSI = 100 - 3500/174 = 6950/87 */
    const double want[LEN] = {NAN, NAN, NAN, 200.0 / 3, 250.0 / 3, 2900.0 / 33, 5800.0 / 93, 6950.0 / 87};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_rsi(C, LEN, 3, out);
    check_series("RSI3", out, want, LEN);
}

Test(indicators, rsi_no_losses_is_100)
{
    /* strictly rising: every l = 0 so AL = 0 (AG > 0) -> 100 */
    const double up[6] = {1, 2, 3, 4, 5, 6};
    const double want[6] = {NAN, NAN, NAN, 100, 100, 100};
    double out[7];
    guard_init(out, 7);
    ind_rsi(up, 6, 3, out);
    check_series("RSI3(up)", out, want, 6);
}

Test(indicators, rsi_flat_is_50)
{
    /* flat: AG = AL = 0 -> 50 */
    const double flat[6] = {7, 7, 7, 7, 7, 7};
    const double want[6] = {NAN, NAN, NAN, 50, 50, 50};
    double out[7];
    guard_init(out, 7);
    ind_rsi(flat, 6, 3, out);
    check_series("RSI3(flat)", out, want, 6);
}

Test(indicators, rsi_no_gains_is_0)
{
    /* strictly falling: AG = 0, AL > 0 -> RS = 0 -> 100 - 100/1 = 0 */
    const double down[6] = {6, 5, 4, 3, 2, 1};
    const double want[6] = {NAN, NAN, NAN, 0, 0, 0};
    double out[7];
    guard_init(out, 7);
    ind_rsi(down, 6, 3, out);
    check_series("RSI3(down)", out, want, 6);
}

Test(indicators, rsi_flat_then_rise)
{
    /* 7 7 7 7 8: AG3 = AL3 = 0 -> 50; t4: AG = (0*2+1)/3 = 1/3, AL = 0 -> 100 */
    const double x[5] = {7, 7, 7, 7, 8};
    const double want[5] = {NAN, NAN, NAN, 50, 100};
    double out[6];
    guard_init(out, 6);
    ind_rsi(x, 5, 3, out);
    check_series("RSI3(flat->up)", out, want, 5);
}

/* ---------------------------------------------------------------- LOGRET / VOL */

Test(indicators, logret)
{
    /* LOGRET(1)_t = ln(C_t/C_{t-1}), first at 1:
     *   ln(11/10) ln(12/11) ln(11/12) ln(13/11) ln(14/13) ln(13/14) ln(15/13) */
    const double want1[LEN] = {NAN,
                               0.095310179804324935,  /* ln 1.1 */
                               0.087011376989629699,  /* ln(12/11) */
                               -0.08701137698962981,  /* ln(11/12) */
                               0.16705408466316624,   /* ln(13/11) */
                               0.074107972153721835,  /* ln(14/13) */
                               -0.074107972153721849, /* ln(13/14) */
                               0.14310084364067324};  /* ln(15/13) */
    /* LOGRET(2)_t = ln(C_t/C_{t-2}), first at 2:
     *   ln(12/10) ln(11/11)=0 ln(13/12) ln(14/11) ln(13/13)=0 ln(15/14) */
    const double want2[LEN] = {NAN, NAN, 0.18232155679395459, 0, 0.080042707673536356, 0.24116205681688804,
                               0, 0.068992871486951421};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_logret(C, LEN, 1, out);
    check_series("LOGRET1", out, want1, LEN);
    guard_init(out, LEN + 1);
    ind_logret(C, LEN, 2, out);
    check_series("LOGRET2", out, want2, LEN);
    cr_expect(out[3] == 0.0 && out[6] == 0.0, "ln(1) must be exactly 0");
}

Test(indicators, vol_sample_std)
{
    /* VOL(3)_t = sample std (ddof 1) of r_{t-2..t}, r = LOGRET(1); first at n = 3.
     * t3: r = ln1.1, ln(12/11), ln(11/12): mean m = ln1.1/3 (the last two cancel),
     *     var = [(ln1.1-m)^2 + (ln(12/11)-m)^2 + (ln(11/12)-m)^2] / 2
     *     -> 0.10295139557290643
     * and likewise over the windows (r2,r3,r4), (r3,r4,r5), (r4,r5,r6), (r5,r6,r7). */
    const double want[LEN] = {NAN,
                              NAN,
                              NAN,
                              0.10295139557290643,
                              0.12989740359163296,
                              0.12854809949576845,
                              0.1216320158139004,
                              0.11098622446184159};
    double out[LEN + 1];
    guard_init(out, LEN + 1);
    ind_vol(C, LEN, 3, out);
    check_series("VOL3", out, want, LEN);
    for (size_t t = 0; t < LEN; t++) check_point("vol_at", ind_vol_at(C, t, 3), want[t], t);
}

Test(indicators, vol_two_returns_exact)
{
    /* VOL(2) on 1, 2, 4, 4: r = ln2, ln2, 0.
     *   t2: r1 = r2 = ln2 -> std 0
     *   t3: r2 = ln2, r3 = 0: mean ln2/2, var = 2*(ln2/2)^2 / 1 = ln2^2/2 -> std = ln2/sqrt2 */
    const double x[4] = {1, 2, 4, 4};
    const double want[4] = {NAN, NAN, 0, 0.69314718055994531 / 1.4142135623730951};
    double out[5];
    guard_init(out, 5);
    ind_vol(x, 4, 2, out);
    check_series("VOL2", out, want, 4);
}

/* ---------------------------------------------------------------- SPREAD */

Test(indicators, spread_hand_value_and_clamp)
{
    /* Bars (H, L, C): b0 (10, 9, 10), b1 (10, 9, 10), b2 (12, 11, 11).
     * eta0 = eta1 = (ln10 + ln9)/2, so c0 - eta0 = c0 - eta1 = ln(10/9)/2 =: d.
     * SPREAD(1)_1 = 1e4 * sqrt(4 * d * d) = 1e4 * 2d = 1e4 * ln(10/9) = 1053.6051565782634
     * SPREAD(1)_2: (c1 - eta1) = d > 0, (c1 - eta2) = ln10 - ln(sqrt(132)) < 0: the
     *   product is negative -> max(0, .) = 0 -> exactly 0.
     * SPREAD(2)_2 = 1e4 sqrt(max(0, 4 * (d*d + d*(ln10 - ln sqrt 132)) / 2)):
     *   d = 0.0527, ln10 - ln sqrt 132 = -0.1388, so the mean is negative -> 0. */
    const double h[3] = {10, 10, 12}, l[3] = {9, 9, 11}, c[3] = {10, 10, 11};
    const double want1[3] = {NAN, 1053.6051565782634, 0};
    const double want2[3] = {NAN, NAN, 0};
    double out[4];
    guard_init(out, 4);
    ind_spread(h, l, c, 3, 1, out);
    check_series("SPREAD1", out, want1, 3);
    cr_expect(out[2] == 0.0, "clamped spread must be exactly 0, got %.17g", out[2]);
    guard_init(out, 4);
    ind_spread(h, l, c, 3, 2, out);
    check_series("SPREAD2", out, want2, 3);
    cr_expect(out[2] == 0.0, "clamped spread must be exactly 0, got %.17g", out[2]);
    for (size_t t = 0; t < 3; t++) {
        check_point("spread_at(1)", ind_spread_at(h, l, c, t, 1), want1[t], t);
        check_point("spread_at(2)", ind_spread_at(h, l, c, t, 2), want2[t], t);
    }
}

Test(indicators, spread_window_of_two)
{
    /* Bars (H, L, C): (10,9,10) (10,9,9) (12,11,11) (12,11,12) (12.5,11.5,12).
     * With c_u = ln C_u, eta_u = (ln H_u + ln L_u)/2, P_u = (c_u - eta_u)(c_u - eta_{u+1}):
     *   SPREAD(2)_t = 1e4 sqrt(max(0, 4 (P_{t-2} + P_{t-1}) / 2)), first at 2
     *   t2: P0 + P1 = 0.015638484427505386 -> 1768.5295828741675
     *   t3: P1 + P2 = 0.014756019793992442 -> 1717.9068539354769
     *   t4: P2 + P3 = 0.0019305431064219997 -> 621.37639260306628
     * (P0 = d^2 with d = ln(10/9)/2; P1 = (-d)(ln9 - ln sqrt132); P2 = (ln11 - ln sqrt132)
     *  (ln11 - ln sqrt132); P3 = (ln12 - ln sqrt132)(ln12 - ln sqrt(12.5*11.5))) */
    const double h[5] = {10, 10, 12, 12, 12.5}, l[5] = {9, 9, 11, 11, 11.5}, c[5] = {10, 9, 11, 12, 12};
    const double want[5] = {NAN, NAN, 1768.5295828741675, 1717.9068539354769, 621.37639260306628};
    double out[6];
    guard_init(out, 6);
    ind_spread(h, l, c, 5, 2, out);
    check_series("SPREAD2", out, want, 5);
    for (size_t t = 0; t < 5; t++) check_point("spread_at", ind_spread_at(h, l, c, t, 2), want[t], t);
}

/* ---------------------------------------------------------------- short series */

Test(indicators, shorter_than_period_all_nan)
{
    /* len 3: SMA/EMA/ADV(4) need 4 bars; ATR/RSI/VOL/SPREAD(3) and LOGRET(3) need 4. */
    const size_t n = 3;
    const double nan3[3] = {NAN, NAN, NAN};
    double out[4];
    guard_init(out, 4);
    ind_sma(C, n, 4, out);
    check_series("SMA4(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_ema(C, n, 4, out);
    check_series("EMA4(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_adv(V, n, 4, out);
    check_series("ADV4(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_atr(H, L, C, n, 3, out);
    check_series("ATR3(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_rsi(C, n, 3, out);
    check_series("RSI3(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_vol(C, n, 3, out);
    check_series("VOL3(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_spread(H, L, C, n, 3, out);
    check_series("SPREAD3(len3)", out, nan3, n);
    guard_init(out, 4);
    ind_logret(C, n, 3, out);
    check_series("LOGRET3(len3)", out, nan3, n);
    /* TR on one bar: only index 0, undefined */
    guard_init(out, 4);
    ind_tr(H, L, C, 1, out);
    check_series("TR(len1)", out, nan3, 1);
    /* point versions before their first index */
    cr_expect(isnan(ind_sma_at(C, 2, 4)));
    cr_expect(isnan(ind_vol_at(C, 2, 3)));
    cr_expect(isnan(ind_spread_at(H, L, C, 2, 3)));
}

Test(indicators, exactly_period_first_value_only)
{
    /* len = first defined index + 1: only the last value is defined. */
    double out[5];
    const double sma_w[3] = {NAN, NAN, 11};          /* (10+11+12)/3 */
    const double atr_w[4] = {NAN, NAN, NAN, 5.0 / 3}; /* (1.5+1.5+2)/3 */
    const double rsi_w[4] = {NAN, NAN, NAN, 200.0 / 3};
    guard_init(out, 5);
    ind_sma(C, 3, 3, out);
    check_series("SMA3(len3)", out, sma_w, 3);
    guard_init(out, 5);
    ind_ema(C, 3, 3, out);
    check_series("EMA3(len3)", out, sma_w, 3);
    guard_init(out, 5);
    ind_atr(H, L, C, 4, 3, out);
    check_series("ATR3(len4)", out, atr_w, 4);
    guard_init(out, 5);
    ind_rsi(C, 4, 3, out);
    check_series("RSI3(len4)", out, rsi_w, 4);
}

Test(indicators, empty_series_writes_nothing)
{
    double out[1] = {GUARD};
    ind_sma(C, 0, 3, out);
    ind_ema(C, 0, 3, out);
    ind_tr(H, L, C, 0, out);
    ind_atr(H, L, C, 0, 3, out);
    ind_rsi(C, 0, 3, out);
    ind_logret(C, 0, 1, out);
    ind_vol(C, 0, 3, out);
    ind_adv(V, 0, 3, out);
    ind_spread(H, L, C, 0, 3, out);
    cr_expect(out[0] == GUARD, "an indicator wrote into a zero-length output");
}
