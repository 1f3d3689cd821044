/*
 * The Q8 quantiser on the host (tensor.h "Q8"): the documented rule on
 * hand-made rows (ties to even, the row maximum at +-127, clamping, a zero
 * row), and its error figures against a float64 recomputation.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include <clformer/clformer.h>

#include "common/testutil.h"

Test(quant, q8_follows_the_documented_rule)
{
    /* Row 0: max 127 so the scale is exactly 1; 0.5 and 2.5 tie to even,
     * -1.5 to -2. Row 1: all zero. Row 2: max at -2.54, scale 0.02. */
    float w[3 * 5] = {127.0f, 0.5f, 2.5f, -1.5f, 3.49f, 0, 0, 0, 0, 0,
                      -2.54f, 1.0f, 0.01f, 0.03f, 2.54f};
    int8_t q[15];
    float s[3];
    clf_quant_error e;
    clf_quantize_q8(w, 3, 5, q, s, &e);
    cr_assert_eq(s[0], 1.0f);
    int8_t want0[5] = {127, 0, 2, -2, 3};
    for (int i = 0; i < 5; i++) cr_assert_eq(q[i], want0[i], "row 0 element %d: %d", i, q[i]);
    cr_assert_eq(s[1], 0.0f);
    for (int i = 5; i < 10; i++) cr_assert_eq(q[i], 0);
    cr_assert_eq(s[2], 2.54f / 127.0f);
    cr_assert_eq(q[10], -127);
    cr_assert_eq(q[14], 127);
    cr_assert_eq(q[11], (int8_t)rintf(1.0f / s[2]));
    cr_assert(e.max_rel > 0 && e.max_rel <= 0.5 / 127 * 1.0001, "max_rel %g", e.max_rel);
}

Test(quant, q8_error_figures_match_a_float64_recount)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 5);
    enum { R = 37, K = 129 };
    static float w[R * K];
    static int8_t q[R * K];
    float s[R];
    clft_fill_uniform(&rng, w, R * K, -1, 1);
    clf_quant_error e;
    clf_quantize_q8(w, R, K, q, s, &e);
    double se = 0, sw = 0, me = 0, mw = 0;
    for (int i = 0; i < R * K; i++) {
        double d = (double)w[i] - (double)q[i] * s[i / K];
        se += d * d, sw += (double)w[i] * w[i];
        me = fmax(me, fabs(d)), mw = fmax(mw, fabs(w[i]));
        /* Each code is within half a step of its weight. */
        cr_assert(fabs(d) <= 0.5 * s[i / K] * (1 + 1e-5), "element %d (seed %llu)", i,
                  (unsigned long long)seed);
    }
    cr_assert(fabs(e.rms_rel - sqrt(se / sw)) < 1e-12, "rms %g vs %g (seed %llu)", e.rms_rel,
              sqrt(se / sw), (unsigned long long)seed);
    cr_assert(fabs(e.max_rel - me / mw) < 1e-12);
    /* Uniform weights: RMS error step/sqrt(12) over RMS 1/sqrt(3): ~0.0039. */
    cr_assert(e.rms_rel > 0.002 && e.rms_rel < 0.006, "rms_rel %g (seed %llu)", e.rms_rel,
              (unsigned long long)seed);
}
