/* Device tests of clf_copy and clf_kv_append: strided and permuted views in
 * every dtype pair against the float64 reference, sentinel padding around
 * every destination, and the error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "ref/ref_copy.h"
#include "ref/ref_strided.h"

typedef struct copy_case {
    int ndim;
    int64_t shape[4];
    int sperm[4], dperm[4]; /* storage orders of source and destination */
    int64_t spad, dpad;     /* spare elements per innermost storage row */
} copy_case;

static const copy_case copy_cases[] = {
    {1, {1}, {0}, {0}, 0, 0},
    {1, {7}, {0}, {0}, 2, 0},
    {1, {5003}, {0}, {0}, 0, 0},
    {2, {13, 127}, {1, 0}, {0, 1}, 0, 3},        /* transpose */
    {2, {127, 13}, {0, 1}, {0, 1}, 3, 1},        /* row-padded both sides */
    {3, {2, 7, 13}, {1, 0, 2}, {0, 1, 2}, 0, 0}, /* batch-major from sequence-major */
    {4, {2, 13, 4, 16}, {0, 1, 2, 3}, {0, 2, 1, 3}, 0, 0}, /* head split (B,S,H,Dh)->(B,H,S,Dh) */
    {4, {2, 4, 13, 16}, {0, 2, 1, 3}, {0, 1, 2, 3}, 5, 0}, /* head merge */
    {4, {3, 5, 7, 11}, {3, 1, 0, 2}, {2, 0, 3, 1}, 1, 2},
    {4, {2, 3, 1, 5}, {0, 1, 2, 3}, {3, 2, 1, 0}, 0, 1},   /* size-1 dimension */
    {3, {1, 1, 4099}, {0, 1, 2}, {0, 1, 2}, 0, 0},
};

Test(copy, copies_strided_and_permuted_views_in_every_dtype_pair)
{
    static const clf_dtype pairs[][2] = {{CLF_F32, CLF_F32}, {CLF_F16, CLF_F16},
                                         {CLF_F32, CLF_F16}, {CLF_F16, CLF_F32},
                                         {CLF_I32, CLF_I32}};
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 1);
        for (size_t c = 0; c < LEN(copy_cases); c++) {
            const copy_case *cc = &copy_cases[c];
            for (size_t pi = 0; pi < LEN(pairs); pi++) {
                clf_dtype sdt = pairs[pi][0], ddt = pairs[pi][1];
                int64_t sst[4], dst_[4];
                const int64_t front = 3 + (int64_t)c; /* offsets on both sides */
                int64_t sspan = layout(cc->ndim, cc->shape, cc->sperm, cc->spad, sst);
                int64_t dspan = layout(cc->ndim, cc->shape, cc->dperm, cc->dpad, dst_);
                pbuf sb, db;
                pbuf_make(ctx, sdt, front + sspan + 4, &sb);
                pbuf_make(ctx, ddt, front + dspan + 4, &db);
                clf_tensor sv, dv;
                cr_assert_eq(clf_tensor_view(&sb.base, cc->ndim, cc->shape, sst, front, &sv), CLF_OK);
                cr_assert_eq(clf_tensor_view(&db.base, cc->ndim, cc->shape, dst_, front, &dv), CLF_OK);
                int64_t n = clf_tensor_numel(&sv);
                float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *out);
                double *ref = malloc((size_t)n * sizeof *ref);
                random_values(&rng, sdt, x, n);
                pbuf_set(&sb, &sv, x);
                /* Poison the destination: NaN for floats, a distinct value for i32. */
                for (int64_t i = 0; i < n; i++) out[i] = ddt == CLF_I32 ? -999.0f : NAN;
                pbuf_set(&db, &dv, out);
                pbuf_upload(ctx, &sb);
                pbuf_upload(ctx, &db);

                clf_status st = clf_copy(ctx, &sv, &dv);
                char sd[160], dd[160];
                clf_tensor_describe(&sv, sd, sizeof sd);
                clf_tensor_describe(&dv, dd, sizeof dd);
                cr_assert_eq(st, CLF_OK, "clf_copy(%s -> %s): %s", sd, dd,
                             clf_context_last_error(ctx));
                pbuf_fetch(ctx, &db, &dv, out, "clf_copy");
                ref_copy(sb.host, sv.ndim, sv.shape, sv.stride, sv.offset, ref);
                /* f32 -> f16 rounds: NMSE <= 1e-3 (f16 storage); otherwise bit-exact,
                 * well inside the 1e-10 of exact ops. */
                double e = clft_nmse(out, ref, (size_t)n);
                double tol = ddt == CLF_F16 && sdt == CLF_F32 ? 1e-3 : 1e-10;
                cr_assert(e <= tol, "clf_copy %s -> %s: NMSE %.3g > %.0e (seed %llu)", sd, dd, e,
                          tol, (unsigned long long)clft_seed());
                for (int64_t i = 0; i < n; i++) {
                    float want = stored_as(ddt, x[i]);
                    cr_assert(out[i] == want,
                              "clf_copy %s -> %s: element %lld is %.9g, expected %.9g (seed %llu)",
                              sd, dd, (long long)i, out[i], want,
                              (unsigned long long)clft_seed());
                }
                free(x);
                free(out);
                free(ref);
                pbuf_free(&sb);
                pbuf_free(&db);
            }
        }
        clf_context_free(ctx);
    }
}

/* NaN payloads and signed zeros survive a same-dtype copy (it is bitwise). */
Test(copy, same_dtype_copies_are_bitwise)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        int64_t n = 6;
        clf_tensor a, b;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &b), CLF_OK);
        uint32_t in[6] = {0x7fc01234u, 0xffc00001u, 0x80000000u, 0x7f800000u, 0x00000001u,
                          0x3f800000u};
        uint32_t out[6] = {0};
        cr_assert_eq(clf_tensor_write(ctx, &a, in, sizeof in, true), CLF_OK);
        cr_assert_eq(clf_copy(ctx, &a, &b), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_read(ctx, &b, out, sizeof out, true), CLF_OK);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(out[i], in[i], "element %d: 0x%08x, expected 0x%08x", i, out[i], in[i]);
        clf_tensor_free(&a);
        clf_tensor_free(&b);
        clf_context_free(ctx);
    }
}

typedef struct kv_case {
    int64_t B, cap, H, Dh, pos, n;
} kv_case;

Test(copy, kv_append_writes_positions_pos_to_pos_plus_n)
{
    static const kv_case cases[] = {
        {1, 1, 1, 1, 0, 1},    {1, 7, 1, 13, 6, 1},  {2, 13, 3, 16, 0, 13},
        {3, 127, 2, 7, 50, 9}, {2, 64, 4, 32, 63, 1}, {1, 33, 5, 64, 10, 17},
        {2, 9, 1, 127, 4, 5},  {4, 5, 2, 8, 2, 3},
    };
    static const clf_dtype pairs[][2] = {{CLF_F32, CLF_F32}, {CLF_F16, CLF_F16},
                                         {CLF_F32, CLF_F16}};
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clft_rng rng = clft_rng_make(clft_seed(), 2);
        for (size_t c = 0; c < LEN(cases); c++) {
            for (size_t pi = 0; pi < LEN(pairs); pi++) {
                const kv_case *k = &cases[c];
                clf_dtype sdt = pairs[pi][0], cdt = pairs[pi][1];
                /* The cache is a view at an offset of a bigger buffer; src is the
                 * K part of a fused (B, n, 3, H, Dh) QKV projection. */
                const int64_t front = 11, cshape[4] = {k->B, k->cap, k->H, k->Dh};
                const int64_t cstride[4] = {k->cap * k->H * k->Dh, k->H * k->Dh, k->Dh, 1};
                const int64_t sshape[4] = {k->B, k->n, k->H, k->Dh};
                const int64_t sstride[4] = {k->n * 3 * k->H * k->Dh, 3 * k->H * k->Dh, k->Dh, 1};
                const int64_t ncache = k->B * k->cap * k->H * k->Dh, nsrc = k->B * k->n * k->H * k->Dh;
                pbuf cb, sb;
                pbuf_make(ctx, cdt, front + ncache + 5, &cb);
                pbuf_make(ctx, sdt, 3 * nsrc + k->H * k->Dh, &sb);
                clf_tensor cv, sv;
                cr_assert_eq(clf_tensor_view(&cb.base, 4, cshape, cstride, front, &cv), CLF_OK);
                cr_assert_eq(clf_tensor_view(&sb.base, 4, sshape, sstride, k->H * k->Dh, &sv),
                             CLF_OK);
                float *cache = malloc((size_t)ncache * sizeof *cache);
                float *src = malloc((size_t)nsrc * sizeof *src);
                double *ref = malloc((size_t)ncache * sizeof *ref);
                double *src64 = malloc((size_t)nsrc * sizeof *src64);
                random_values(&rng, cdt, cache, ncache); /* earlier positions: must stay */
                random_values(&rng, sdt, src, nsrc);
                pbuf_set(&cb, &cv, cache);
                pbuf_set(&sb, &sv, src);
                pbuf_upload(ctx, &cb);
                pbuf_upload(ctx, &sb);
                for (int64_t i = 0; i < ncache; i++) ref[i] = cache[i];
                for (int64_t i = 0; i < nsrc; i++) src64[i] = stored_as(cdt, src[i]);
                ref_kv_append(ref, k->B, k->cap, k->H, k->Dh, k->pos, src64, k->n);

                clf_status st = clf_kv_append(ctx, &cv, k->pos, &sv);
                cr_assert_eq(st, CLF_OK, "clf_kv_append(B=%lld cap=%lld H=%lld Dh=%lld pos=%lld n=%lld): %s",
                             (long long)k->B, (long long)k->cap, (long long)k->H, (long long)k->Dh,
                             (long long)k->pos, (long long)k->n, clf_context_last_error(ctx));
                pbuf_fetch(ctx, &cb, &cv, cache, "clf_kv_append");
                double e = clft_nmse(cache, ref, (size_t)ncache);
                double tol = cdt == CLF_F16 && sdt == CLF_F32 ? 1e-3 : 1e-10;
                cr_assert(e <= tol,
                          "clf_kv_append %s <- %s B=%lld cap=%lld H=%lld Dh=%lld pos=%lld n=%lld: "
                          "NMSE %.3g > %.0e (seed %llu)",
                          clf_dtype_name(cdt), clf_dtype_name(sdt), (long long)k->B,
                          (long long)k->cap, (long long)k->H, (long long)k->Dh, (long long)k->pos,
                          (long long)k->n, e, tol, (unsigned long long)clft_seed());
                for (int64_t i = 0; i < ncache; i++)
                    cr_assert(cache[i] == (float)ref[i],
                              "clf_kv_append: cache element %lld is %.9g, expected %.9g (seed %llu)",
                              (long long)i, cache[i], ref[i], (unsigned long long)clft_seed());
                free(cache);
                free(src);
                free(ref);
                free(src64);
                pbuf_free(&cb);
                pbuf_free(&sb);
            }
        }
        clf_context_free(ctx);
    }
}

Test(copy, rejects_bad_arguments_with_the_documented_status)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int dev = 0; dev < nd; dev++) {
        clf_context *ctx = clft_context(specs[dev], NULL);
        clf_context *other = clft_context(specs[dev], NULL);
        const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6}, big[1] = {64};
        clf_tensor a, b, c, i32, f, ot, kv, kv_src, kv_bad;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, s23, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 2, s23, &b), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, s32, &c), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, s23, &i32), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, big, &f), CLF_OK);
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, s23, &ot), CLF_OK);
        const int64_t kvs[4] = {2, 8, 3, 4}, kvn[4] = {2, 3, 3, 4}, kvh[4] = {2, 3, 2, 4};
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, kvs, &kv), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, kvn, &kv_src), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 4, kvh, &kv_bad), CLF_OK);

        expect_error(ctx, clf_copy(ctx, NULL, &a), CLF_ERR_INVALID_ARG, "clf_copy", "NULL src");
        expect_error(ctx, clf_copy(ctx, &a, NULL), CLF_ERR_INVALID_ARG, "clf_copy", "NULL dst");
        cr_assert_eq(clf_copy(NULL, &a, &b), CLF_ERR_INVALID_ARG);
        expect_error(ctx, clf_copy(ctx, &a, &c), CLF_ERR_SHAPE, "clf_copy", "(2,3) -> (3,2)");
        clf_tensor flat;
        cr_assert_eq(clf_tensor_reshape(&c, 1, s6, &flat), CLF_OK);
        expect_error(ctx, clf_copy(ctx, &a, &flat), CLF_ERR_SHAPE, "clf_copy", "(2,3) -> (6)");
        expect_error(ctx, clf_copy(ctx, &i32, &a), CLF_ERR_DTYPE, "clf_copy", "i32 -> f32");
        expect_error(ctx, clf_copy(ctx, &b, &i32), CLF_ERR_DTYPE, "clf_copy", "f16 -> i32");
        expect_error(ctx, clf_copy(ctx, &ot, &a), CLF_ERR_CONTEXT, "clf_copy", "src of another context");
        expect_error(ctx, clf_copy(ctx, &a, &ot), CLF_ERR_CONTEXT, "clf_copy", "dst of another context");
        /* Overlap: [0, 6) and [4, 10) of one buffer; and a copy onto itself. */
        clf_tensor lo, hi, x1, x2;
        cr_assert_eq(clf_tensor_slice(&f, 0, 0, 6, &x1), CLF_OK);
        cr_assert_eq(clf_tensor_slice(&f, 0, 4, 6, &x2), CLF_OK);
        cr_assert_eq(clf_tensor_reshape(&x1, 2, s23, &lo), CLF_OK);
        cr_assert_eq(clf_tensor_reshape(&x2, 2, s23, &hi), CLF_OK);
        expect_error(ctx, clf_copy(ctx, &lo, &hi), CLF_ERR_INVALID_ARG, "clf_copy", "overlap");
        expect_error(ctx, clf_copy(ctx, &a, &a), CLF_ERR_INVALID_ARG, "clf_copy", "onto itself");
        /* Disjoint parts of one buffer are fine. */
        cr_assert_eq(clf_tensor_slice(&f, 0, 6, 6, &x2), CLF_OK);
        cr_assert_eq(clf_tensor_reshape(&x2, 2, s23, &hi), CLF_OK);
        cr_assert_eq(clf_copy(ctx, &lo, &hi), CLF_OK, "%s", clf_context_last_error(ctx));

        expect_error(ctx, clf_kv_append(ctx, &kv, 6, &kv_src), CLF_ERR_OUT_OF_RANGE,
                     "clf_kv_append", "pos 6 + n 3 > capacity 8");
        expect_error(ctx, clf_kv_append(ctx, &kv, -1, &kv_src), CLF_ERR_OUT_OF_RANGE,
                     "clf_kv_append", "negative pos");
        expect_error(ctx, clf_kv_append(ctx, &kv, 0, &kv_bad), CLF_ERR_SHAPE, "clf_kv_append",
                     "head count mismatch");
        expect_error(ctx, clf_kv_append(ctx, &kv, 0, &a), CLF_ERR_SHAPE, "clf_kv_append",
                     "2-D src");
        expect_error(ctx, clf_kv_append(ctx, &kv, 0, NULL), CLF_ERR_INVALID_ARG,
                     "clf_kv_append", "NULL src");
        expect_error(ctx, clf_kv_append(ctx, NULL, 0, &kv_src), CLF_ERR_INVALID_ARG,
                     "clf_kv_append", "NULL cache");
        clf_tensor kv_i32;
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 4, kvs, &kv_i32), CLF_OK);
        expect_error(ctx, clf_kv_append(ctx, &kv_i32, 0, &kv_src), CLF_ERR_DTYPE,
                     "clf_kv_append", "i32 cache");
        clf_tensor kv_other;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 4, kvn, &kv_other), CLF_OK);
        expect_error(ctx, clf_kv_append(ctx, &kv, 0, &kv_other), CLF_ERR_CONTEXT,
                     "clf_kv_append", "src of another context");
        cr_assert_eq(clf_kv_append(ctx, &kv, 5, &kv_src), CLF_OK, "%s",
                     clf_context_last_error(ctx));
        cr_assert_eq(clf_context_finish(ctx), CLF_OK);

        clf_tensor *all[] = {&a, &b, &c, &i32, &f, &kv, &kv_src, &kv_bad, &kv_i32};
        for (size_t i = 0; i < LEN(all); i++) clf_tensor_free(all[i]);
        clf_tensor_free(&ot);
        clf_tensor_free(&kv_other);
        clf_context_free(ctx);
        clf_context_free(other);
    }
}
