/*
 * The Q8 and Q4 quantisers on the host (tensor.h "Q8", "Q4"): the documented
 * rule on hand-made rows (ties to even, the row or group maximum at the top
 * code, a zero row; Q4's nibble order, short last group and padding), and
 * their error figures against a float64 recomputation.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

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

/* The code of element c of row r in a Q4 buffer (tensor.h "Q4"), independent
 * of the quantiser: byte c % 16 of its group, high nibble from 16, minus 8. */
static int q4_code(const uint8_t *codes, int64_t cols, int64_t r, int64_t c)
{
    int64_t g = (cols + 31) / 32;
    const uint8_t *b = codes + (r * g + c / 32) * 16;
    int j = (int)(c % 32);
    return (j < 16 ? (b[j] & 15) : (b[j - 16] >> 4)) - 8;
}

/* Squared error of a group of len values under the plain symmetric rule
 * (scale max|x| / 7, codes rounded to nearest within -7..7): the baseline
 * the quantiser must never be worse than (tensor.h "Q4"). */
static double q4_plain_sse(const float *x, int len)
{
    float amax = 0.0f;
    for (int j = 0; j < len; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 7.0f;
    double e = 0;
    for (int j = 0; j < len; j++) {
        float c = d > 0 ? fminf(fmaxf(rintf(x[j] / d), -7.0f), 7.0f) : 0.0f;
        e += ((double)x[j] - (double)c * d) * ((double)x[j] - (double)c * d);
    }
    return e;
}

/* The group's squared error as stored (codes read back from the bytes). */
static double q4_group_sse(const float *x, int len, const uint8_t *codes, int64_t cols, int64_t r,
                           int64_t c0, float scale)
{
    double e = 0;
    for (int j = 0; j < len; j++) {
        double d = (double)x[j] - (double)q4_code(codes, cols, r, c0 + j) * scale;
        e += d * d;
    }
    return e;
}

Test(quant, q4_follows_the_documented_rule)
{
    /* One row of 35: a group of 32 then a short group of 3. Group 0 holds
     * the integers -8..7 twice (element j is j % 16 - 8): exact with scale 1
     * and code -8, which the plain max / 7 rule cannot reach (its error would
     * be > 0). Element 16 is the first high nibble. Group 1: -0.7, 0.35, 0.05,
     * its codes in bytes 0..2 of the second group's low nibbles, the rest of
     * the group code 0 (nibble 8). Row 1: all zero, scales 0. */
    float w[2 * 35] = {0};
    for (int j = 0; j < 32; j++) w[j] = (float)(j % 16 - 8);
    w[32] = -0.7f, w[33] = 0.35f, w[34] = 0.05f;
    uint8_t q[2 * 2 * 16];
    float s[4];
    clf_quant_error e;
    cr_assert_eq(clf_q4_groups(35), 2);
    cr_assert_eq(clf_q4_groups(32), 1);
    cr_assert_eq(clf_q4_groups(1), 1);
    clf_quantize_q4(w, 2, 35, q, s, &e);
    cr_assert_eq(s[0], 1.0f, "scale %g", s[0]);
    for (int j = 0; j < 32; j++)
        cr_assert_eq(q4_code(q, 35, 0, j), j % 16 - 8, "element %d: %d", j, q4_code(q, 35, 0, j));
    /* Byte 0: element 0 (-8, nibble 0) low, element 16 (-8) high; byte 15: 7 and 7. */
    cr_assert_eq(q[0], 0x00, "byte 0: 0x%02x", q[0]);
    cr_assert_eq(q[15], 0xff, "byte 15: 0x%02x", q[15]);
    /* The short group: the stored scale is the least-squares one for its
     * codes, and its error is no more than the plain rule's. */
    double xq = 0, qq = 0;
    for (int j = 0; j < 3; j++) {
        int c = q4_code(q, 35, 0, 32 + j);
        cr_assert(c >= -8 && c <= 7);
        xq += (double)w[32 + j] * c, qq += (double)c * c;
    }
    cr_assert_eq(s[1], (float)(xq / qq), "scale %.9g, least squares %.9g", s[1], xq / qq);
    cr_assert(q4_group_sse(w + 32, 3, q, 35, 0, 32, s[1]) <= q4_plain_sse(w + 32, 3));
    for (int j = 3; j < 16; j++) cr_assert_eq(q[16 + j], 0x88, "padding byte %d", j);
    cr_assert_eq(s[2], 0.0f);
    cr_assert_eq(s[3], 0.0f);
    for (int c = 0; c < 35; c++) cr_assert_eq(q4_code(q, 35, 1, c), 0);
    cr_assert(e.max_rel > 0 && e.max_rel <= 0.5 / 7, "max_rel %g", e.max_rel);
    /* Deterministic: the same input gives the same bytes and scales. */
    uint8_t q2[2 * 2 * 16];
    float s2[4];
    clf_quantize_q4(w, 2, 35, q2, s2, NULL);
    cr_assert(memcmp(q, q2, sizeof q) == 0 && memcmp(s, s2, sizeof s) == 0);
}

Test(quant, q4_error_figures_match_a_float64_recount)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 6);
    enum { R = 37, K = 129, G = 5 };
    static float w[R * K];
    static uint8_t q[R * G * 16];
    float s[R * G];
    clft_fill_uniform(&rng, w, R * K, -1, 1);
    clf_quant_error e;
    clf_quantize_q4(w, R, K, q, s, &e);
    double se = 0, sw = 0, me = 0, mw = 0;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < K; c++) {
            float sc = s[r * G + c / 32], x = w[r * K + c];
            int code = q4_code(q, K, r, c);
            double d = (double)x - (double)code * sc;
            se += d * d, sw += (double)x * x;
            me = fmax(me, fabs(d)), mw = fmax(mw, fabs(x));
            cr_assert(code >= -8 && code <= 7, "row %d col %d code %d (seed %llu)", r, c, code,
                      (unsigned long long)seed);
        }
    /* Each group no worse than the plain max / 7 rule; in all, clearly better. */
    double plain = 0;
    for (int r = 0; r < R; r++)
        for (int g = 0; g < G; g++) {
            int len = K - g * 32 < 32 ? K - g * 32 : 32;
            const float *x = w + r * K + g * 32;
            double mine = q4_group_sse(x, len, q, K, r, g * 32, s[r * G + g]), base = q4_plain_sse(x, len);
            cr_assert(mine <= base * (1 + 1e-9), "row %d group %d: %g > plain %g (seed %llu)", r, g,
                      mine, base, (unsigned long long)seed);
            plain += base;
        }
    cr_assert(se < 0.9 * plain, "squared error %g, plain rule %g (seed %llu)", se, plain,
              (unsigned long long)seed);
    cr_assert(fabs(e.rms_rel - sqrt(se / sw)) < 1e-12, "rms %g vs %g (seed %llu)", e.rms_rel,
              sqrt(se / sw), (unsigned long long)seed);
    cr_assert(fabs(e.max_rel - me / mw) < 1e-12);
    /* Uniform weights: the plain rule's RMS error (max/7)/sqrt(12) over RMS
     * 1/sqrt(3) is ~0.07; the searched scales use 16 levels: ~0.06. */
    printf("[quant] q4 uniform: rms_rel %.4f, plain rule %.4f\n", e.rms_rel, sqrt(plain / sw));
    cr_assert(e.rms_rel > 0.03 && e.rms_rel < 0.07, "rms_rel %g (seed %llu)", e.rms_rel,
              (unsigned long long)seed);
}

/* The documented search written the plain way, one candidate at a time with
 * libm's rintf, fminf and fmaxf (the library's first form): the library's
 * vectorised search (the candidates as its inner loop) must give the same
 * bits. Codes per element, the stored scale returned. */
static float q4_reference_group(const float *x, int len, int *codes)
{
    float m = 0.0f;
    for (int j = 0; j < len; j++)
        if (fabsf(x[j]) > fabsf(m)) m = x[j];
    if (m == 0.0f) {
        for (int j = 0; j < len; j++) codes[j] = 0;
        return 0.0f;
    }
    static const float cands[] = {7.0f, -8.0f, -7.5f, -8.5f, -9.0f, -7.0f, -6.5f,
                                  6.5f, 7.5f,  8.0f,  8.5f,  9.0f};
    double best = INFINITY;
    float best_d = 0.0f;
    for (int i = -1; i < 12; i++) {
        float d = i < 0 ? fabsf(m) / 7.0f : m / cands[i], q[32];
        double xq = 0, qq = 0, sse = 0;
        for (int j = 0; j < len; j++) {
            q[j] = fminf(fmaxf(d != 0.0f ? rintf(x[j] / d) : 0.0f, -8.0f), 7.0f);
            xq += (double)x[j] * q[j];
            qq += (double)q[j] * q[j];
        }
        float dd = qq > 0 ? (float)(xq / qq) : 0.0f;
        for (int j = 0; j < len; j++) {
            double e = (double)x[j] - (double)q[j] * (double)dd;
            sse += e * e;
        }
        if (i < 0 || sse < best) {
            best = sse, best_d = dd;
            for (int j = 0; j < len; j++) codes[j] = (int)q[j];
        }
    }
    return best_d;
}

Test(quant, q4_search_gives_the_plain_searchs_bits)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 7);
    enum { R = 61, K = 203, G = 7 }; /* a short last group of 11 */
    static float w[R * K];
    static uint8_t q[R * G * 16];
    float s[R * G];
    clft_fill_uniform(&rng, w, R * K, -1, 1);
    /* Rows of special groups: outliers, exact ties at half steps, a zero
     * group, denormal maxima (a candidate scale underflows to 0), a NaN and
     * infinities, integers the -8 side reaches exactly. */
    for (int j = 0; j < K; j++) {
        w[0 * K + j] *= j % 29 == 0 ? 40.0f : 1.0f;
        w[1 * K + j] = (float)((j % 15) - 7) * 0.5f + 0.25f;
        w[2 * K + j] = j < 64 ? 0.0f : w[2 * K + j];
        w[3 * K + j] = w[3 * K + j] * 1e-44f;
        w[5 * K + j] = (float)(j % 16 - 8);
    }
    w[4 * K + 3] = NAN, w[4 * K + 40] = INFINITY, w[4 * K + 70] = -INFINITY;
    clf_quantize_q4(w, R, K, q, s, NULL);
    for (int r = 0; r < R; r++)
        for (int g = 0; g < G; g++) {
            int len = K - 32 * g < 32 ? K - 32 * g : 32, want[32];
            float ws = q4_reference_group(w + r * K + 32 * g, len, want);
            cr_assert(memcmp(&ws, &s[r * G + g], sizeof ws) == 0,
                      "row %d group %d: scale %.9g, the plain search %.9g (seed %llu)", r, g,
                      s[r * G + g], ws, (unsigned long long)seed);
            for (int j = 0; j < len; j++)
                cr_assert_eq(q4_code(q, K, r, 32 * g + j), want[j],
                             "row %d element %d: code %d, the plain search %d (seed %llu)", r,
                             32 * g + j, q4_code(q, K, r, 32 * g + j), want[j],
                             (unsigned long long)seed);
        }
}
