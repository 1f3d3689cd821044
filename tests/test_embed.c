/* Device tests of clf_embedding and clf_positional_encoding: gathers in every
 * storage dtype from views with offsets, learned and sinusoidal positions
 * against the float64 formulas, out-of-range ids reported at finish, and the
 * error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_embed.h"
#include "ref/ref_strided.h"

/*
 * Sinusoids are computed in f32 on the device and compared with float64.
 * The angle pos / 10000^(2i/D) carries a relative error of a few f32 ulps
 * (the pow, and the product with pos), so its absolute error is about
 * pos * 2e-7 at the highest frequency and less at the others; sin and cos add
 * an ulp or two. Per element: |err| <= 4e-7 * (pos + 1) + 2e-6. Over a table
 * most columns have low frequencies (small error), so with positions up to a
 * few thousand the NMSE stays near 1e-9; the bound 1e-7 leaves headroom for
 * less accurate device libm (OpenCL allows 4 ulp for sin/cos, 16 for pow).
 */
#define SIN_NMSE 1e-7
#define SIN_ABS(pos) (4e-7 * (double)((pos) + 1) + 2e-6)

typedef struct emb_case {
    int64_t B, S, V, D;
    int ids_1d;     /* ids (S) and out (S, D); B must be 1 */
    float scale;    /* 0 = 1 */
    int pos_type;   /* clf_pos_type */
    int64_t P;      /* learned table rows */
    int64_t offset; /* pos_offset */
} emb_case;

static void describe_case(const emb_case *c, clf_dtype t, clf_dtype o, char *buf, size_t n)
{
    snprintf(buf, n, "B=%lld S=%lld V=%lld D=%lld%s scale=%g pos=%d P=%lld offset=%lld table %s out %s",
             (long long)c->B, (long long)c->S, (long long)c->V, (long long)c->D,
             c->ids_1d ? " (1-D ids)" : "", c->scale, c->pos_type, (long long)c->P,
             (long long)c->offset, clf_dtype_name(t), clf_dtype_name(o));
}

/* Runs one case with ids drawn from [0, V) (bad_at >= 0: that flat token gets
 * bad_id instead) and checks the output against the reference. Returns the
 * status of the call; the check runs only when it is CLF_OK. */
static void run_case(clf_context *ctx, clft_rng *rng, const emb_case *c, clf_dtype tdt,
                     clf_dtype odt, clf_dtype pdt)
{
    char what[256];
    describe_case(c, tdt, odt, what, sizeof what);
    const int64_t B = c->B, S = c->S, V = c->V, D = c->D, T = B * S;
    const int64_t tshape[2] = {V, D}, pshape[2] = {c->P ? c->P : 1, D};
    const int64_t ishape[2] = {B, S}, oshape[3] = {B, S, D};
    const int ind = c->ids_1d ? 1 : 2, ond = c->ids_1d ? 2 : 3;
    pbuf tb, ib, pb, ob;
    clf_tensor tv, iv, pv, ov;
    pbuf_make_view(ctx, tdt, 2, tshape, NULL, 3, 5, &tb, &tv);
    pbuf_make_view(ctx, CLF_I32, ind, c->ids_1d ? ishape + 1 : ishape, NULL, 2, 1, &ib, &iv);
    pbuf_make_view(ctx, pdt, 2, pshape, NULL, 1, 2, &pb, &pv);
    pbuf_make_view(ctx, odt, ond, c->ids_1d ? oshape + 1 : oshape, NULL, 5, 7, &ob, &ov);

    float *table = malloc((size_t)(V * D) * sizeof *table);
    float *pos = malloc((size_t)(pshape[0] * D) * sizeof *pos);
    float *ids = malloc((size_t)T * sizeof *ids), *out = malloc((size_t)(T * D) * sizeof *out);
    int32_t *ids32 = malloc((size_t)T * sizeof *ids32);
    double *t64 = malloc((size_t)(V * D) * sizeof *t64);
    double *p64 = malloc((size_t)(pshape[0] * D) * sizeof *p64);
    double *ref = malloc((size_t)(T * D) * sizeof *ref);
    random_values(rng, tdt, table, V * D);
    random_values(rng, pdt, pos, pshape[0] * D);
    for (int64_t i = 0; i < T; i++) {
        ids32[i] = (int32_t)(clft_next(rng) % (uint64_t)V);
        ids[i] = (float)ids32[i];
    }
    for (int64_t i = 0; i < T * D; i++) out[i] = NAN;
    pbuf_set(&tb, &tv, table);
    pbuf_set(&pb, &pv, pos);
    pbuf_set(&ib, &iv, ids);
    pbuf_set(&ob, &ov, out);
    pbuf_upload(ctx, &tb);
    pbuf_upload(ctx, &pb);
    pbuf_upload(ctx, &ib);
    pbuf_upload(ctx, &ob);

    clf_embed_params p = {c->scale, (clf_pos_type)c->pos_type, &pv, c->offset, NULL};
    clf_status st = clf_embedding(ctx, &tv, &iv, &ov, &p);
    cr_assert_eq(st, CLF_OK, "clf_embedding(%s): %s", what, clf_context_last_error(ctx));
    pbuf_fetch(ctx, &ob, &ov, out, what);

    for (int64_t i = 0; i < V * D; i++) t64[i] = table[i];
    for (int64_t i = 0; i < pshape[0] * D; i++) p64[i] = pos[i];
    ref_embedding(t64, V, D, ids32, B, S, c->scale == 0.0f ? 1.0 : c->scale, c->pos_type, p64,
                  c->offset, ref);
    /* Gathers and learned positions: one f32 multiply-add per element, so
     * the 1e-10 of exact ops; f16 output: 1e-3; sinusoids: see SIN_NMSE. */
    double tol = odt == CLF_F16 ? 1e-3 : c->pos_type >= 2 ? SIN_NMSE : 1e-10;
    double e = clft_nmse(out, ref, (size_t)(T * D));
    cr_assert(e <= tol, "clf_embedding(%s): NMSE %.3g > %.0e (seed %llu)", what, e, tol,
              (unsigned long long)clft_seed());
    if (c->pos_type >= 2 && odt == CLF_F32) {
        for (int64_t i = 0; i < T * D; i++) {
            int64_t at = c->offset + (i / D) % S;
            double tol_abs = SIN_ABS(at) + fabs(ref[i]) * 1e-6;
            cr_assert(fabs(out[i] - ref[i]) <= tol_abs,
                      "clf_embedding(%s): element %lld (position %lld) is %.9g, expected %.9g "
                      "(seed %llu)",
                      what, (long long)i, (long long)at, out[i], ref[i],
                      (unsigned long long)clft_seed());
        }
    }
    free(table);
    free(pos);
    free(ids);
    free(out);
    free(ids32);
    free(t64);
    free(p64);
    free(ref);
    pbuf_free(&tb);
    pbuf_free(&ib);
    pbuf_free(&pb);
    pbuf_free(&ob);
}

static const clf_dtype dtype_pairs[][2] = {
    {CLF_F32, CLF_F32}, {CLF_F16, CLF_F16}, {CLF_F16, CLF_F32}, {CLF_F32, CLF_F16}};

Test(embed, gathers_scaled_rows_in_every_storage_dtype)
{
    static const emb_case cases[] = {
        {1, 1, 1, 1, 0, 0, 0, 0, 0},       {1, 7, 13, 5, 1, 0, 0, 0, 0},
        {2, 13, 127, 64, 0, 8.0f, 0, 0, 0}, {3, 5, 1000, 127, 0, 0, 0, 0, 0},
        {4, 1, 17, 13, 0, 0.5f, 0, 0, 0},   {1, 127, 50, 96, 1, 0, 0, 0, 0},
        {2, 3, 7, 4099, 0, 27.7128f, 0, 0, 0}, {5, 37, 3001, 65, 0, -1.0f, 0, 0, 0},
    };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 10);
        for (size_t c = 0; c < LEN(cases); c++)
            for (size_t t = 0; t < LEN(dtype_pairs); t++)
                run_case(ctx, &rng, &cases[c], dtype_pairs[t][0], dtype_pairs[t][1], CLF_F32);
        clf_context_free(ctx);
    }
}

Test(embed, adds_learned_positions_from_pos_offset)
{
    static const emb_case cases[] = {
        {1, 1, 3, 1, 0, 0, 1, 1, 0},        {2, 13, 127, 64, 0, 8.0f, 1, 13, 0},
        {1, 7, 50, 13, 1, 0, 1, 1026, 2},   /* BART: positions start at 2 */
        {3, 1, 31, 127, 0, 0, 1, 100, 99},  /* a decode step at the last position */
        {2, 5, 7, 96, 0, 0, 1, 64, 17},
    };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 11);
        for (size_t c = 0; c < LEN(cases); c++) {
            run_case(ctx, &rng, &cases[c], CLF_F32, CLF_F32, CLF_F32);
            run_case(ctx, &rng, &cases[c], CLF_F16, CLF_F16, CLF_F16);
            run_case(ctx, &rng, &cases[c], CLF_F32, CLF_F32, CLF_F16);
        }
        clf_context_free(ctx);
    }
}

Test(embed, adds_sinusoidal_positions_of_both_kinds)
{
    static const emb_case cases[] = {
        {1, 1, 3, 1, 0, 0, 0, 0, 0},         {2, 13, 127, 64, 0, 8.0f, 0, 0, 0},
        {1, 7, 50, 13, 1, 0, 0, 0, 2},       {3, 1, 31, 127, 0, 0, 0, 0, 2999},
        {2, 37, 7, 512, 0, 22.627417f, 0, 0, 1000},
    };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 12);
        for (int type = CLF_POS_SINUSOIDAL; type <= CLF_POS_SINUSOIDAL_CONCAT; type++)
            for (size_t c = 0; c < LEN(cases); c++) {
                emb_case cc = cases[c];
                cc.pos_type = type;
                run_case(ctx, &rng, &cc, CLF_F32, CLF_F32, CLF_F32);
                run_case(ctx, &rng, &cc, CLF_F16, CLF_F16, CLF_F32);
            }
        clf_context_free(ctx);
    }
}

typedef struct pe_case {
    int64_t S, D, offset;
} pe_case;

Test(embed, positional_encoding_matches_the_float64_formulas)
{
    static const pe_case cases[] = {
        {1, 1, 0},    {7, 13, 0},   {127, 64, 3}, {13, 127, 2000}, {1, 768, 4095},
        {33, 6, 100}, {2048, 256, 0}, {5, 1025, 511},
    };
    static const clf_dtype dts[] = {CLF_F32, CLF_F16};
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        for (int type = CLF_POS_SINUSOIDAL; type <= CLF_POS_SINUSOIDAL_CONCAT; type++)
            for (size_t c = 0; c < LEN(cases); c++)
                for (size_t t = 0; t < LEN(dts); t++) {
                    const pe_case *pc = &cases[c];
                    const int64_t shape[2] = {pc->S, pc->D}, n = pc->S * pc->D;
                    pbuf ob;
                    clf_tensor ov;
                    pbuf_make_view(ctx, dts[t], 2, shape, NULL, 3, 9, &ob, &ov);
                    float *out = malloc((size_t)n * sizeof *out);
                    double *ref = malloc((size_t)n * sizeof *ref);
                    for (int64_t i = 0; i < n; i++) out[i] = NAN;
                    pbuf_set(&ob, &ov, out);
                    pbuf_upload(ctx, &ob);
                    char what[160];
                    snprintf(what, sizeof what, "type %d S=%lld D=%lld offset=%lld out %s", type,
                             (long long)pc->S, (long long)pc->D, (long long)pc->offset,
                             clf_dtype_name(dts[t]));
                    clf_status st = clf_positional_encoding(ctx, (clf_pos_type)type, pc->offset, &ov);
                    cr_assert_eq(st, CLF_OK, "clf_positional_encoding(%s): %s", what,
                                 clf_context_last_error(ctx));
                    pbuf_fetch(ctx, &ob, &ov, out, what);
                    ref_positional_encoding(type, pc->offset, pc->S, pc->D, ref);
                    double e = clft_nmse(out, ref, (size_t)n);
                    double tol = dts[t] == CLF_F16 ? 1e-3 : SIN_NMSE;
                    cr_assert(e <= tol, "clf_positional_encoding(%s): NMSE %.3g > %.0e (seed %llu)",
                              what, e, tol, (unsigned long long)clft_seed());
                    for (int64_t i = 0; dts[t] == CLF_F32 && i < n; i++) {
                        int64_t at = pc->offset + i / pc->D;
                        cr_assert(fabs(out[i] - ref[i]) <= SIN_ABS(at),
                                  "clf_positional_encoding(%s): [%lld, %lld] is %.9g, expected "
                                  "%.9g",
                                  what, (long long)(i / pc->D), (long long)(i % pc->D), out[i],
                                  ref[i]);
                    }
                    free(out);
                    free(ref);
                    pbuf_free(&ob);
                }
        clf_context_free(ctx);
    }
}

/* The documented columns of each kind, spelled out for D = 4 at position 1. */
Test(embed, sinusoidal_kinds_place_sin_and_cos_where_documented)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        const int64_t shape[2] = {1, 4};
        clf_tensor t;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, shape, &t), CLF_OK);
        float got[4];
        const double f1 = 1.0 / 100.0; /* 10000^(-2/4) */
        const double paper[4] = {sin(1.0), cos(1.0), sin(f1), cos(f1)};
        const double concat[4] = {sin(1.0), sin(f1), cos(1.0), cos(f1)};
        cr_assert_eq(clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, 1, &t), CLF_OK);
        cr_assert_eq(clf_tensor_read_f32(ctx, &t, got, 4), CLF_OK);
        for (int i = 0; i < 4; i++)
            cr_assert(fabs(got[i] - paper[i]) < 1e-6, "paper column %d: %g, expected %g", i,
                      got[i], paper[i]);
        cr_assert_eq(clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL_CONCAT, 1, &t), CLF_OK);
        cr_assert_eq(clf_tensor_read_f32(ctx, &t, got, 4), CLF_OK);
        for (int i = 0; i < 4; i++)
            cr_assert(fabs(got[i] - concat[i]) < 1e-6, "concat column %d: %g, expected %g", i,
                      got[i], concat[i]);
        clf_tensor_free(&t);
        clf_context_free(ctx);
    }
}

Test(embed, out_of_range_id_writes_zeros_and_is_reported_at_finish)
{
    static const int32_t bad_ids[] = {13, -1, 2147483647};
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 13);
        const int64_t V = 13, D = 37, B = 2, S = 7, T = B * S;
        const int64_t tshape[2] = {V, D}, ishape[2] = {B, S}, oshape[3] = {B, S, D};
        clf_tensor table, ids, out;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, tshape, &table), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, ishape, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, oshape, &out), CLF_OK);
        float tab[13 * 37], got[2 * 7 * 37];
        double t64[13 * 37], ref[2 * 7 * 37];
        clft_fill_uniform(&rng, tab, (size_t)(V * D), -1.0f, 1.0f);
        for (int64_t i = 0; i < V * D; i++) t64[i] = tab[i];
        cr_assert_eq(clf_tensor_write_f32(ctx, &table, tab, V * D), CLF_OK);
        for (size_t k = 0; k < LEN(bad_ids); k++) {
            int32_t idv[14];
            const int64_t at = 3 + 4 * (int64_t)k; /* flat token position of the bad id */
            for (int64_t i = 0; i < T; i++) idv[i] = (int32_t)(clft_next(&rng) % (uint64_t)V);
            idv[at] = bad_ids[k];
            cr_assert_eq(clf_tensor_write(ctx, &ids, idv, sizeof idv, true), CLF_OK);
            cr_assert_eq(clf_tensor_fill(ctx, &out, NAN), CLF_OK);

            clf_status st = clf_embedding(ctx, &table, &ids, &out, NULL);
            cr_assert_eq(st, CLF_OK, "the call itself succeeds (the id is checked on the device): %s",
                         clf_context_last_error(ctx));
            st = clf_context_finish(ctx);
            cr_assert_eq(st, CLF_ERR_OUT_OF_RANGE, "finish after id %d: got %s", bad_ids[k],
                         clf_status_name(st));
            char idtext[32];
            snprintf(idtext, sizeof idtext, "%d", bad_ids[k]);
            cr_assert(strstr(clf_context_last_error(ctx), idtext),
                      "the message names the id %s: \"%s\"", idtext, clf_context_last_error(ctx));
            cr_assert_eq(clf_context_finish(ctx), CLF_OK, "the error is reported once");
            cr_assert_eq(clf_tensor_read_f32(ctx, &out, got, T * D), CLF_OK, "%s",
                         clf_context_last_error(ctx));
            ref_embedding(t64, V, D, idv, B, S, 1.0, 0, NULL, 0, ref);
            for (int64_t i = 0; i < T * D; i++)
                cr_assert(got[i] == (float)ref[i],
                          "id %d at token %lld: element %lld (token %lld) is %g, expected %g "
                          "(seed %llu)",
                          bad_ids[k], (long long)at, (long long)i, (long long)(i / D), got[i],
                          ref[i], (unsigned long long)clft_seed());
        }
        clf_tensor_free(&table);
        clf_tensor_free(&ids);
        clf_tensor_free(&out);
        clf_context_free(ctx);
    }
}

Test(embed, rejects_bad_arguments_with_the_documented_status)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clf_context *other = clft_context(specs[dev], NULL);
        const int64_t ts[2] = {10, 8}, is[2] = {2, 3}, os[3] = {2, 3, 8}, bad_os[3] = {2, 3, 7};
        const int64_t ps[2] = {4, 8}, pbad[2] = {4, 7}, os2[2] = {3, 8}, is3[3] = {1, 2, 3};
        clf_tensor table, ids, out, out_bad, pos, pos_bad, ids_f32, table_i32, out_i32, other_t,
            out2, ids3;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, ts, &table), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, is, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, os, &out), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, bad_os, &out_bad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 2, ps, &pos), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, pbad, &pos_bad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, is, &ids_f32), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, ts, &table_i32), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 3, os, &out_i32), CLF_OK);
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, ts, &other_t), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, os2, &out2), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 3, is3, &ids3), CLF_OK);
        const int32_t zeros[6] = {0};
        cr_assert_eq(clf_tensor_write(ctx, &ids, zeros, sizeof zeros, true), CLF_OK);
        const char *op = "clf_embedding";

        cr_assert_eq(clf_embedding(NULL, &table, &ids, &out, NULL), CLF_ERR_INVALID_ARG);
        expect_error(ctx, clf_embedding(ctx, NULL, &ids, &out, NULL), CLF_ERR_INVALID_ARG, op, "NULL table");
        expect_error(ctx, clf_embedding(ctx, &table, NULL, &out, NULL), CLF_ERR_INVALID_ARG, op, "NULL ids");
        expect_error(ctx, clf_embedding(ctx, &table, &ids, NULL, NULL), CLF_ERR_INVALID_ARG, op, "NULL out");
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out_bad, NULL), CLF_ERR_SHAPE, op, "out D 7 != 8");
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out2, NULL), CLF_ERR_SHAPE, op, "2-D out for 2-D ids");
        expect_error(ctx, clf_embedding(ctx, &table, &ids3, &out, NULL), CLF_ERR_SHAPE, op, "3-D ids");
        expect_error(ctx, clf_embedding(ctx, &table, &ids_f32, &out, NULL), CLF_ERR_DTYPE, op, "f32 ids");
        expect_error(ctx, clf_embedding(ctx, &table_i32, &ids, &out, NULL), CLF_ERR_DTYPE, op, "i32 table");
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out_i32, NULL), CLF_ERR_DTYPE, op, "i32 out");
        expect_error(ctx, clf_embedding(ctx, &other_t, &ids, &out, NULL), CLF_ERR_CONTEXT, op, "table of another context");

        clf_embed_params p = {0};
        p.positions = CLF_POS_LEARNED;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_INVALID_ARG, op, "learned without a table");
        p.pos_table = &pos_bad;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_SHAPE, op, "pos_table D 7");
        p.pos_table = &other_t;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_CONTEXT, op, "pos_table of another context");
        p.pos_table = &pos; /* 4 positions, S = 3 */
        p.pos_offset = 2;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_OUT_OF_RANGE, op, "positions 2..4 of 4");
        p.pos_offset = -1;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_OUT_OF_RANGE, op, "negative offset");
        p.pos_offset = 1;
        cr_assert_eq(clf_embedding(ctx, &table, &ids, &out, &p), CLF_OK, "positions 1..3 of 4: %s",
                     clf_context_last_error(ctx));
        p.positions = (clf_pos_type)7;
        expect_error(ctx, clf_embedding(ctx, &table, &ids, &out, &p), CLF_ERR_INVALID_ARG, op, "unknown position type");
        /* out overlapping the table. */
        clf_tensor alias;
        const int64_t as[3] = {1, 3, 8};
        cr_assert_eq(clf_tensor_reshape(&table, 3, (const int64_t[]){1, 10, 8}, &alias), CLF_OK);
        cr_assert_eq(clf_tensor_slice(&alias, 1, 0, 3, &alias), CLF_OK);
        const int64_t is13[2] = {1, 3};
        clf_tensor ids13;
        cr_assert_eq(clf_tensor_view(&ids, 2, is13, (const int64_t[]){3, 1}, 0, &ids13), CLF_OK);
        (void)as;
        expect_error(ctx, clf_embedding(ctx, &table, &ids13, &alias, NULL), CLF_ERR_INVALID_ARG, op, "out overlaps table");

        const char *op2 = "clf_positional_encoding";
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_LEARNED, 0, &out2), CLF_ERR_INVALID_ARG, op2, "learned kind");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_NONE, 0, &out2), CLF_ERR_INVALID_ARG, op2, "none kind");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, -3, &out2), CLF_ERR_OUT_OF_RANGE, op2, "negative offset");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, 0, &out), CLF_ERR_SHAPE, op2, "3-D out");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, 0, &table_i32), CLF_ERR_DTYPE, op2, "i32 out");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, 0, NULL), CLF_ERR_INVALID_ARG, op2, "NULL out");
        expect_error(ctx, clf_positional_encoding(ctx, CLF_POS_SINUSOIDAL, 0, &other_t), CLF_ERR_CONTEXT, op2, "out of another context");
        cr_assert_eq(clf_context_finish(ctx), CLF_OK, "%s", clf_context_last_error(ctx));

        clf_tensor *all[] = {&table, &ids, &out, &out_bad, &pos, &pos_bad, &ids_f32, &table_i32,
                             &out_i32, &out2, &ids3};
        for (size_t i = 0; i < LEN(all); i++) clf_tensor_free(all[i]);
        clf_tensor_free(&other_t);
        clf_context_free(ctx);
        clf_context_free(other);
    }
}

/* A Q8 table (tensor.h; the output head of a Q8 model is gathered so): each
 * row is code * its scale, then times the scale parameter, plus a learned
 * position; a row slice of the table (from row 2) finds its rows' scales.
 * Reference: the read-back codes and scales in float64; the kernel rounds
 * code * row scale, then * scale, then + position: NMSE 1e-12 bound. */
Test(embed, gathers_dequantised_rows_of_a_q8_table)
{
    enum { V = 37, D = 67, S = 5, P = 9 };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    uint64_t seed = clft_seed();
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(seed, 12);
        static float w[V * D], pos[P * D], out[S * D];
        static int8_t codes[V * D];
        static float scales[V];
        clft_fill_uniform(&rng, w, V * D, -1, 1);
        clft_fill_uniform(&rng, pos, P * D, -1, 1);
        clf_tensor tq, tp, ti, to;
        cr_assert_eq(clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){V, D}, &tq), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tq, w, V * D), CLF_OK);
        cr_assert_eq(clf_tensor_read_q8(ctx, &tq, codes, scales), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){P, D}, &tp), CLF_OK);
        cr_assert_eq(clf_tensor_write_f32(ctx, &tp, pos, P * D), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){S}, &ti), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){S, D}, &to), CLF_OK);
        int32_t ids[S];
        for (int s = 0; s < S; s++) ids[s] = (int32_t)(clft_next(&rng) % (V - 2));
        cr_assert_eq(clf_tensor_write(ctx, &ti, ids, sizeof ids, true), CLF_OK);
        /* Rows 2.. of the table: ids index the slice. */
        clf_tensor slice = tq;
        slice.shape[0] = V - 2;
        slice.offset = 2 * D;
        for (int whole = 0; whole < 2; whole++) {
            const clf_tensor *table = whole ? &tq : &slice;
            int64_t row0 = whole ? 0 : 2;
            cr_assert_eq(clf_tensor_fill(ctx, &to, NAN), CLF_OK);
            clf_embed_params p = {0.5f, CLF_POS_LEARNED, &tp, 3, NULL};
            cr_assert_eq(clf_embedding(ctx, table, &ti, &to, &p), CLF_OK, "%s: %s", specs[dev],
                         clf_context_last_error(ctx));
            cr_assert_eq(clf_tensor_read_f32(ctx, &to, out, S * D), CLF_OK);
            static double ref[S * D];
            for (int s = 0; s < S; s++)
                for (int d = 0; d < D; d++) {
                    int64_t r = row0 + ids[s];
                    ref[s * D + d] = 0.5 * (double)codes[r * D + d] * scales[r] + pos[(3 + s) * D + d];
                }
            double e = clft_nmse(out, ref, S * D);
            cr_assert(e <= 1e-12, "%s: q8 table (%s): NMSE %.3g > 1e-12 (seed %llu)", specs[dev],
                      whole ? "whole" : "rows 2..", e, (unsigned long long)seed);
        }
        /* A Q8 table needs unit column strides of out: a transposed view is refused. */
        clf_tensor tt;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){D, S}, &tt), CLF_OK);
        clf_tensor tv = tt;
        tv.shape[0] = S, tv.shape[1] = D, tv.stride[0] = 1, tv.stride[1] = S;
        cr_assert_eq(clf_embedding(ctx, &tq, &ti, &tv, NULL), CLF_ERR_UNSUPPORTED);
        cr_assert(strstr(clf_context_last_error(ctx), "q8"), "%s", clf_context_last_error(ctx));
        clf_tensor *all[] = {&tq, &tp, &ti, &to, &tt};
        for (int i = 0; i < 5; i++) clf_tensor_free(all[i]);
        clf_context_free(ctx);
    }
}

/* A packed table (clf_gemm_pack_b: the tied output head of a model on the
 * CPU kernel family is packed for the LM-head product and the embedding
 * gathers from that one copy): rows come out of the panel layout, f32 and
 * f16, and a Q8 table's codes out of its interleaved rows times the row's
 * scale; V not a multiple of the panel rows (the last panel is partial) and
 * an odd D, with scale and learned positions; the last row is always among
 * the ids. Reference: the table's stored values read back before packing
 * (f16 rounded, Q8 dequantised) in float64, one or two f32 roundings per
 * element: NMSE 1e-12. A view of a packed table, or an out with a non-unit
 * column stride, is refused. */
Test(embed, gathers_rows_of_a_packed_table)
{
    enum { V = 37, D = 67, S = 7, P = 11 };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    uint64_t seed = clft_seed();
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        for (int f16 = 0; f16 < 3; f16++) { /* f32, f16, Q8 */
            clf_dtype dt = f16 == 2 ? CLF_Q8 : f16 ? CLF_F16 : CLF_F32;
            clft_rng rng = clft_rng_make(seed, 13 + (uint64_t)f16);
            static float w[V * D], back[V * D], pos[P * D], out[S * D];
            clft_fill_uniform(&rng, w, V * D, -1, 1);
            clft_fill_uniform(&rng, pos, P * D, -1, 1);
            clf_tensor tw, tpk, tp, ti, to;
            cr_assert_eq(clf_tensor_create(ctx, dt, 2, (int64_t[]){V, D}, &tw), CLF_OK);
            cr_assert_eq(clf_tensor_write_f32(ctx, &tw, w, V * D), CLF_OK);
            cr_assert_eq(clf_tensor_read_f32(ctx, &tw, back, V * D), CLF_OK); /* stored values */
            cr_assert_eq(clf_gemm_pack_b(ctx, &tw, &tpk), CLF_OK, "%s: %s", specs[dev],
                         clf_context_last_error(ctx));
            clf_tensor_free(&tw); /* the packed copy is all the gather may read */
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){P, D}, &tp), CLF_OK);
            cr_assert_eq(clf_tensor_write_f32(ctx, &tp, pos, P * D), CLF_OK);
            cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){S}, &ti), CLF_OK);
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){S, D}, &to), CLF_OK);
            int32_t ids[S];
            for (int s = 0; s < S; s++) ids[s] = (int32_t)(clft_next(&rng) % V);
            ids[S / 2] = V - 1;
            cr_assert_eq(clf_tensor_write(ctx, &ti, ids, sizeof ids, true), CLF_OK);
            cr_assert_eq(clf_tensor_fill(ctx, &to, NAN), CLF_OK);
            clf_embed_params p = {0.5f, CLF_POS_LEARNED, &tp, 2, NULL};
            cr_assert_eq(clf_embedding(ctx, &tpk, &ti, &to, &p), CLF_OK, "%s: %s", specs[dev],
                         clf_context_last_error(ctx));
            cr_assert_eq(clf_tensor_read_f32(ctx, &to, out, S * D), CLF_OK);
            static double ref[S * D];
            for (int s = 0; s < S; s++)
                for (int d = 0; d < D; d++)
                    ref[s * D + d] = 0.5 * (double)back[ids[s] * D + d] + pos[(2 + s) * D + d];
            double e = clft_nmse(out, ref, S * D);
            cr_assert(e <= 1e-12, "%s: packed %s table: NMSE %.3g > 1e-12 (seed %llu)",
                      specs[dev], clf_dtype_name(dt), e, (unsigned long long)seed);
            /* Taken whole only: rows 1.. of it, and a transposed out, are refused. */
            clf_tensor slice = tpk;
            slice.shape[0] = V - 1;
            slice.offset = D;
            cr_assert_eq(clf_embedding(ctx, &slice, &ti, &to, &p), CLF_ERR_UNSUPPORTED);
            cr_assert(strstr(clf_context_last_error(ctx), "packed"), "%s",
                      clf_context_last_error(ctx));
            clf_tensor tt, tv;
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){D, S}, &tt), CLF_OK);
            tv = tt;
            tv.shape[0] = S, tv.shape[1] = D, tv.stride[0] = 1, tv.stride[1] = S;
            cr_assert_eq(clf_embedding(ctx, &tpk, &ti, &tv, NULL), CLF_ERR_UNSUPPORTED);
            clf_tensor *all[] = {&tpk, &tp, &ti, &to, &tt};
            for (int i = 0; i < 5; i++) clf_tensor_free(all[i]);
        }
        clf_context_free(ctx);
    }
}
