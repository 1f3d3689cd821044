/* Device tests: buffers, views, transfers in every dtype, strided fill, and
 * the errors of each (out-of-range views, another context, sizes). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/core.h"
#include "runtime/runtime.h"

Test(tensor, f16_host_conversion_round_trips_and_rounds_to_nearest_even)
{
    const float in[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e-8f, 5.9604645e-8f,
                        6.1035156e-5f, 1.0009765625f, 1.00048828125f, 1.00146484375f, INFINITY,
                        -INFINITY, 3.14159265f};
    const uint16_t want[] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x7c00, 0x0000, 0x0001,
                             0x0400, 0x3c01, 0x3c00 /* tie to even */, 0x3c02 /* tie to even */,
                             0x7c00, 0xfc00, 0x4248};
    uint16_t got[15];
    clf_f32_to_f16(in, got, 15);
    for (int i = 0; i < 15; i++)
        cr_assert_eq(got[i], want[i], "f32 %g -> 0x%04x, want 0x%04x", in[i], got[i], want[i]);
    uint16_t nan16;
    float nan32 = NAN, back;
    clf_f32_to_f16(&nan32, &nan16, 1);
    clf_f16_to_f32(&nan16, &back, 1);
    cr_assert(isnan(back));
    /* Every finite half converts to float and back unchanged. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        uint16_t x = (uint16_t)h, y;
        float f;
        clf_f16_to_f32(&x, &f, 1);
        clf_f32_to_f16(&f, &y, 1);
        cr_assert_eq(x, y, "0x%04x -> %g -> 0x%04x", x, f, y);
    }
}

Test(tensor, views_are_checked_against_their_buffer)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor t;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){2, 3, 4}, &t), CLF_OK);
        cr_assert_eq(clf_tensor_numel(&t), 24);
        cr_assert_eq(clf_tensor_bytes(&t), 96);
        cr_assert(clf_tensor_is_contiguous(&t));
        cr_assert_eq(t.stride[0], 12);
        cr_assert_eq(t.stride[2], 1);

        clf_tensor s;
        cr_assert_eq(clf_tensor_slice(&t, 1, 1, 2, &s), CLF_OK);
        cr_assert_eq(s.offset, 4);
        cr_assert_eq(s.shape[1], 2);
        cr_assert(!clf_tensor_is_contiguous(&s));
        cr_assert_eq(clf_tensor_slice(&t, 1, 2, 2, &s), CLF_ERR_OUT_OF_RANGE);
        cr_assert(strstr(clf_context_last_error(ctx), "clf_tensor_slice"));
        cr_assert_eq(clf_tensor_slice(&t, 3, 0, 1, &s), CLF_ERR_OUT_OF_RANGE);

        clf_tensor r;
        cr_assert_eq(clf_tensor_reshape(&t, 2, (int64_t[]){-1, 4}, &r), CLF_OK);
        cr_assert_eq(r.shape[0], 6);
        cr_assert_eq(clf_tensor_reshape(&t, 2, (int64_t[]){5, 5}, &r), CLF_ERR_SHAPE);
        cr_assert_eq(clf_tensor_slice(&t, 1, 1, 2, &s), CLF_OK);
        cr_assert_eq(clf_tensor_reshape(&s, 1, (int64_t[]){16}, &r), CLF_ERR_SHAPE,
                     "reshaping a non-contiguous view is refused");

        clf_tensor p;
        cr_assert_eq(clf_tensor_permute(&t, (int[]){2, 0, 1}, &p), CLF_OK);
        cr_assert_eq(p.shape[0], 4);
        cr_assert_eq(p.stride[0], 1);
        cr_assert_eq(p.stride[2], 4);
        cr_assert_eq(clf_tensor_permute(&t, (int[]){0, 0, 1}, &p), CLF_ERR_INVALID_ARG);

        clf_tensor v;
        cr_assert_eq(clf_tensor_view(&t, 2, (int64_t[]){4, 6}, (int64_t[]){6, 1}, 0, &v), CLF_OK);
        cr_assert_eq(clf_tensor_view(&t, 2, (int64_t[]){4, 6}, (int64_t[]){6, 1}, 1, &v),
                     CLF_ERR_OUT_OF_RANGE, "one element past the end");
        cr_assert(strstr(clf_context_last_error(ctx), "past the end"), "%s",
                  clf_context_last_error(ctx));
        cr_assert_eq(clf_tensor_view(&t, 1, (int64_t[]){0}, (int64_t[]){1}, 0, &v), CLF_ERR_SHAPE);
        cr_assert_eq(clf_tensor_view(&t, 5, (int64_t[]){1, 1, 1, 1, 1}, (int64_t[]){1, 1, 1, 1, 1},
                                     0, &v),
                     CLF_ERR_SHAPE);
        char d[160];
        clf_tensor_describe(&s, d, sizeof d);
        cr_assert_str_eq(d, "f32[2,2,4] strides [12,4,1] +4");
        clf_tensor_free(&t);
        cr_assert_null(t.buffer);
        clf_tensor_free(&t); /* freed tensors are zeroed: a second free is a no-op */
    }
}

Test(tensor, write_and_read_every_dtype_at_an_offset)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng rng = clft_rng_make(seed, 1);
        enum { N = 1009 };
        float host[N], back[N];
        clft_fill_uniform(&rng, host, N, -100, 100);
        clf_buffer *buf;
        cr_assert_eq(clf_buffer_create(ctx, (N + 13) * 4, &buf), CLF_OK);
        for (int dt = CLF_F32; dt <= CLF_I32; dt++) {
            clf_tensor t;
            cr_assert_eq(clf_tensor_on(buf, (clf_dtype)dt, 1, (int64_t[]){N}, 7, &t), CLF_OK);
            cr_assert_eq(clf_tensor_write_f32(ctx, &t, host, N), CLF_OK, "%s",
                         clf_context_last_error(ctx));
            clft_poison(back, N);
            cr_assert_eq(clf_tensor_read_f32(ctx, &t, back, N), CLF_OK);
            for (int i = 0; i < N; i++) {
                double want = dt == CLF_I32 ? (double)(int32_t)host[i] : host[i];
                double tol = dt == CLF_F16 ? fabs(want) * 1e-3 : 0;
                cr_assert(fabs(back[i] - want) <= tol, "seed %llu %s [%d]: %g vs %g",
                          (unsigned long long)seed, clf_dtype_name((clf_dtype)dt), i, back[i], want);
            }
        }
        /* Raw bytes, non-blocking both ways, then one finish. */
        clf_tensor t;
        clf_tensor_on(buf, CLF_F32, 2, (int64_t[]){N / 1009, 1009}, 13, &t);
        cr_assert_eq(clf_tensor_write(ctx, &t, host, sizeof host, false), CLF_OK);
        cr_assert_eq(clf_tensor_read(ctx, &t, back, sizeof back, false), CLF_OK);
        cr_assert_eq(clf_context_finish(ctx), CLF_OK);
        cr_assert_arr_eq(host, back, sizeof host);
        cr_assert_eq(clf_tensor_write(ctx, &t, host, sizeof host - 4, true), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_context_last_error(ctx), "bytes given"));
        clf_buffer_free(buf);
    }
}

Test(tensor, fill_writes_exactly_the_strided_view)
{
    CLFT_EACH_DEVICE(ctx)
    {
        for (int dt = CLF_F32; dt <= CLF_I32; dt++) {
            /* A (5, 7, 3) region inside a (6, 9, 4) tensor: the rest must keep
             * its sentinel. */
            clf_tensor whole, part;
            cr_assert_eq(clf_tensor_create(ctx, (clf_dtype)dt, 3, (int64_t[]){6, 9, 4}, &whole), CLF_OK);
            cr_assert_eq(clf_tensor_fill(ctx, &whole, -7.0f), CLF_OK);
            cr_assert_eq(clf_tensor_view(&whole, 3, (int64_t[]){5, 7, 3}, (int64_t[]){36, 4, 1},
                                         36 + 4 + 1, &part),
                         CLF_OK);
            cr_assert_eq(clf_tensor_fill(ctx, &part, 2.5f), CLF_OK);
            float got[216];
            cr_assert_eq(clf_tensor_read_f32(ctx, &whole, got, 216), CLF_OK);
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 9; j++)
                    for (int k = 0; k < 4; k++) {
                        int inside = i >= 1 && j >= 1 && j < 8 && k >= 1;
                        float want = inside ? (dt == CLF_I32 ? 2.0f : 2.5f) : -7.0f;
                        cr_assert_eq(got[i * 36 + j * 4 + k], want, "%s (%d,%d,%d)",
                                     clf_dtype_name((clf_dtype)dt), i, j, k);
                    }
            clf_tensor_free(&whole);
        }
    }
}

/* The documented stream of clf_tensor_fill_uniform, in double. */
static double uniform_ref(uint64_t seed, uint64_t i, double lo, double hi)
{
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * ((double)(z >> 40) / 16777216.0);
}

Test(tensor, fill_uniform_follows_the_documented_stream_on_dense_and_strided_views)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        for (int dt = CLF_F32; dt <= CLF_F16; dt++) {
            /* Dense: 1009 elements (prime, not a multiple of the local size)
             * at an offset; strided: a (5, 7, 3) region of a (6, 9, 4) tensor. */
            for (int strided = 0; strided < 2; strided++) {
                clf_tensor whole, part;
                int64_t n_whole = strided ? 216 : 1100;
                cr_assert_eq(clf_tensor_create(ctx, (clf_dtype)dt, 1, (int64_t[]){n_whole}, &whole), CLF_OK);
                cr_assert_eq(clf_tensor_fill(ctx, &whole, -7.0f), CLF_OK);
                if (strided)
                    cr_assert_eq(clf_tensor_view(&whole, 3, (int64_t[]){5, 7, 3}, (int64_t[]){36, 4, 1},
                                                 36 + 4 + 1, &part),
                                 CLF_OK);
                else
                    cr_assert_eq(clf_tensor_view(&whole, 1, (int64_t[]){1009}, (int64_t[]){1}, 50, &part),
                                 CLF_OK);
                cr_assert_eq(clf_tensor_fill_uniform(ctx, &part, seed, -0.25f, 0.75f), CLF_OK);
                float got[1100];
                cr_assert_eq(clf_tensor_read_f32(ctx, &whole, got, n_whole), CLF_OK);
                int64_t flat = 0;
                double lo_seen = 1, hi_seen = -1;
                for (int64_t e = 0; e < n_whole; e++) {
                    bool inside;
                    if (strided) {
                        int64_t i = e / 36, j = e / 4 % 9, k = e % 4;
                        inside = i >= 1 && j >= 1 && j < 8 && k >= 1;
                    } else {
                        inside = e >= 50 && e < 50 + 1009;
                    }
                    if (!inside) {
                        cr_assert_eq(got[e], -7.0f, "seed %llu: element %lld outside the view written",
                                     (unsigned long long)seed, (long long)e);
                        continue;
                    }
                    double want = uniform_ref(seed, (uint64_t)flat++, -0.25, 0.75);
                    /* f32: one rounding of the multiply-add; f16: 2^-11 relative. */
                    double tol = dt == CLF_F16 ? 1e-3 : 1e-7;
                    cr_assert(fabs(got[e] - want) <= tol, "seed %llu %s: element %lld = %.9g, want %.9g",
                              (unsigned long long)seed, clf_dtype_name((clf_dtype)dt), (long long)flat - 1,
                              (double)got[e], want);
                    if (got[e] < lo_seen) lo_seen = got[e];
                    if (got[e] > hi_seen) hi_seen = got[e];
                }
                cr_assert_eq(flat, strided ? 105 : 1009);
                cr_assert(lo_seen >= -0.25 && hi_seen <= 0.75 && hi_seen - lo_seen > 0.9,
                          "range [%g, %g]", lo_seen, hi_seen);
                clf_tensor_free(&whole);
            }
        }
        /* Errors: i32, a bad range, NULL. */
        clf_tensor t;
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 1, (int64_t[]){4}, &t), CLF_OK);
        cr_assert_eq(clf_tensor_fill_uniform(ctx, &t, 1, 0, 1), CLF_ERR_DTYPE);
        cr_assert(strstr(clf_context_last_error(ctx), "clf_tensor_fill_uniform"));
        clf_tensor_free(&t);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){4}, &t), CLF_OK);
        cr_assert_eq(clf_tensor_fill_uniform(ctx, &t, 1, 1, 0), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_tensor_fill_uniform(ctx, &t, 1, 0, INFINITY), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_tensor_fill_uniform(ctx, NULL, 1, 0, 1), CLF_ERR_INVALID_ARG);
        clf_tensor_free(&t);
    }
}

Test(tensor, errors_name_the_problem)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor t;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 0, (int64_t[]){1}, &t), CLF_ERR_SHAPE);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){-3}, &t), CLF_ERR_SHAPE);
        cr_assert_eq(clf_tensor_create(ctx, (clf_dtype)9, 1, (int64_t[]){3}, &t), CLF_ERR_DTYPE);
        const clf_device_info *info = clf_context_device(ctx);
        clf_buffer *b = NULL;
        cr_assert_eq(clf_buffer_create(ctx, (size_t)info->max_alloc_bytes + 1, &b),
                     CLF_ERR_DEVICE_MEMORY);
        cr_assert_null(b);
        cr_assert(strstr(clf_context_last_error(ctx), "largest allocation"), "%s",
                  clf_context_last_error(ctx));

        /* A tensor of another context. */
        clf_context *other = clft_context(specs_[d_], NULL);
        clf_tensor foreign;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 1, (int64_t[]){4}, &foreign), CLF_OK);
        float x[4] = {0};
        cr_assert_eq(clf_tensor_write(ctx, &foreign, x, sizeof x, true), CLF_ERR_CONTEXT);
        cr_assert_eq(clf_tensor_fill(ctx, &foreign, 1), CLF_ERR_CONTEXT);
        clf_tensor_free(&foreign);
        clf_context_free(other);

        /* Device memory accounting follows buffers. */
        long n0, n1;
        size_t b0, b1;
        clf_context_memory(ctx, &n0, &b0, NULL);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 2, (int64_t[]){3, 5}, &t), CLF_OK);
        clf_context_memory(ctx, &n1, &b1, NULL);
        cr_assert_eq(n1, n0 + 1);
        cr_assert_eq(b1, b0 + 30);
        clf_tensor_free(&t);
        clf_context_memory(ctx, &n1, &b1, NULL);
        cr_assert_eq(n1, n0);
    }
}

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* A buffer's cl_mem flags and host pointer. */
static void mem_flags(const clf_buffer *b, cl_mem_flags *flags, void **host)
{
    cr_assert_eq(clGetMemObjectInfo(b->mem, CL_MEM_FLAGS, sizeof *flags, flags, NULL), CL_SUCCESS);
    *host = NULL;
    cr_assert_eq(clGetMemObjectInfo(b->mem, CL_MEM_HOST_PTR, sizeof *host, host, NULL), CL_SUCCESS);
}

/* With CLFORMER_HUGE_PAGES=1, on a CPU device with unified memory, a weight
 * of 2 MiB or more is host memory the library mapped, aligned to 2 MiB
 * (src/runtime/tensor.c); smaller weights, other buffers, other devices and the
 * default (unset) keep the driver's memory. Either way the data round-trips and a kernel writes it,
 * and freed mapped weights give their memory back (16 x 8 MiB, each written whole). */
Test(tensor, large_weights_on_cpu_devices_are_2mib_aligned_host_pages_given_back_at_free)
{
    uint64_t seed = clft_seed();
    for (int off = 0; off < 2; off++) {
        if (off) unsetenv("CLFORMER_HUGE_PAGES");
        else setenv("CLFORMER_HUGE_PAGES", "1", 1);
        CLFT_EACH_DEVICE(ctx)
        {
            const clf_device_info *in = &ctx->info;
            bool want = !off && in->device_class == CLF_DEVICE_CPU && in->unified_memory;
            cr_assert_eq(ctx->host_pages, want, "%s: host_pages %d (CLFORMER_HUGE_PAGES %s)",
                         specs_[d_], ctx->host_pages, off ? "unset" : "1");
            enum { N = (5 << 20) / 4 + 3 }; /* 5 MiB and 12 bytes: not a whole number of pages */
            clft_rng rng = clft_rng_make(seed, 2);
            float *host = malloc(N * sizeof *host), *back = malloc(N * sizeof *back);
            clft_fill_uniform(&rng, host, N, -1, 1);
            clf_tensor t, small, plain;
            cr_assert_eq(clf__tensor_create_weight(ctx, CLF_F32, 1, (int64_t[]){N}, &t), CLF_OK);
            cr_assert_eq(clf__tensor_create_weight(ctx, CLF_F32, 1, (int64_t[]){(1 << 20) / 4}, &small),
                         CLF_OK);
            cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){N}, &plain), CLF_OK);
            cl_mem_flags flags;
            void *p;
            mem_flags(t.buffer, &flags, &p);
            cr_assert_eq(!!(flags & CL_MEM_USE_HOST_PTR), want, "%s: flags %#llx", specs_[d_],
                         (unsigned long long)flags);
            if (want) cr_assert_eq((uintptr_t)p % ((uintptr_t)2 << 20), 0, "%s: %p", specs_[d_], p);
            mem_flags(small.buffer, &flags, &p);
            cr_assert(!(flags & CL_MEM_USE_HOST_PTR), "%s: 1 MiB is the driver's memory", specs_[d_]);
            mem_flags(plain.buffer, &flags, &p);
            cr_assert(!(flags & CL_MEM_USE_HOST_PTR), "%s: a buffer not a weight is the driver's",
                      specs_[d_]);
            clf_tensor_free(&plain);
            cr_assert_eq(clf_tensor_write_f32(ctx, &t, host, N), CLF_OK);
            clft_poison(back, N);
            cr_assert_eq(clf_tensor_read_f32(ctx, &t, back, N), CLF_OK);
            cr_assert_arr_eq(host, back, N * sizeof *host, "seed %llu %s", (unsigned long long)seed,
                             specs_[d_]);
            cr_assert_eq(clf_tensor_fill(ctx, &t, 3.5f), CLF_OK);
            cr_assert_eq(clf_tensor_read_f32(ctx, &t, back, N), CLF_OK);
            for (int i = 0; i < N; i++) cr_assert_eq(back[i], 3.5f, "%s [%d]", specs_[d_], i);
            clf_tensor_free(&small);
            clf_tensor_free(&t);
            /* Given back: 128 MiB written through 16 mapped weights in turn.
             * Only where clformer maps them: the driver's own memory is
             * malloc'd, and glibc may keep freed blocks resident (it did, in
             * one CI run out of several: 57 MiB). */
            long before = rss_bytes();
            for (int r = 0; want && r < 16; r++) {
                clf_tensor big;
                cr_assert_eq(
                    clf__tensor_create_weight(ctx, CLF_F32, 1, (int64_t[]){(8 << 20) / 4}, &big),
                    CLF_OK);
                cr_assert_eq(clf_tensor_fill(ctx, &big, (float)r), CLF_OK);
                cr_assert_eq(clf_context_finish(ctx), CLF_OK);
                clf_tensor_free(&big);
            }
            cr_assert_eq(clf_context_finish(ctx), CLF_OK);
            long grew = rss_bytes() - before;
            cr_assert(grew < (48l << 20), "%s: resident memory grew %ld KiB over 16 freed 8 MiB buffers",
                      specs_[d_], grew >> 10);
            free(host);
            free(back);
        }
    }
}

Test(tensor, opencl_allocation_failure_is_device_memory_error)
{
    CLFT_EACH_DEVICE(ctx)
    {
        clf_tensor t;
        clf__cl_fail_at(1);
        clf_status st = clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){16}, &t);
        clf__cl_fail_at(0);
        cr_assert_eq(st, CLF_ERR_DEVICE_MEMORY);
        cr_assert(strstr(clf_context_last_error(ctx), "CL_MEM_OBJECT_ALLOCATION_FAILURE"), "%s",
                  clf_context_last_error(ctx));
        long n;
        clf_context_memory(ctx, &n, NULL, NULL);
        cr_assert_eq(n, 0);
    }
}

Test(tensor, profiling_records_each_launch)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        clf_context_params p = clf_context_params_default();
        p.device = specs[d];
        p.cache_dir = "";
        p.profiling = true;
        clf_context *ctx;
        cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK);
        clf_tensor t;
        clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){1000}, &t);
        clf_tensor_fill(ctx, &t, 1);
        clf_tensor_fill(ctx, &t, 2);
        clf_profile_record rec[8];
        size_t got = 0;
        long sync0 = clf_context_blocking_calls(ctx);
        cr_assert_eq(clf_context_profile(ctx, rec, 8, &got), CLF_OK);
        cr_assert_eq(clf_context_blocking_calls(ctx), sync0 + 1);
        cr_assert_eq(got, 2);
        cr_assert_str_eq(rec[0].kernel, "fill_f32");
        cr_assert_geq(rec[1].seconds, 0);
        cr_assert_eq(clf_context_profile(ctx, rec, 8, &got), CLF_OK);
        cr_assert_eq(got, 0, "records are handed out once");
        clf_tensor_free(&t);
        clf_context_free(ctx);
    }
}
