/*
 * The kernel profile's integer fields by name, and the check that a profile
 * only holds values the kernels accept within its limits. The autotuner
 * (src/ops/tune.c) sets fields by name and checks every candidate here; its
 * stored results (src/runtime/tune_store.c) are read back by name and
 * ignored when they fail the check. Pure: no OpenCL call.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "device/device_internal.h"

#define FIELD(m) {#m, offsetof(clf_kernel_profile, m)}
static const clf__profile_field fields[] = {
    FIELD(gemv_max_m),     FIELD(gemv_split),     FIELD(gemv_vec),       FIELD(gemv_vec_n),
    FIELD(gemv_cols_t),    FIELD(gemv_cols_n),    FIELD(gemv_rows_t),    FIELD(gemv_rows_n),
    FIELD(gemm_vec),       FIELD(gemm_tile_m),    FIELD(gemm_tile_n),    FIELD(gemm_tile_k),
    FIELD(gemm_work_m),    FIELD(gemm_work_n),    FIELD(row_wg_min),     FIELD(row_wg_max),
    FIELD(rows_wg),        FIELD(elementwise_wg), FIELD(attn_vec),       FIELD(attn_block_m),
    FIELD(attn_block_n),   FIELD(attn_decode_wg), FIELD(attn_cpu_rows),  FIELD(attn_splits_per_cu),
    FIELD(attn_cpu_acc),   FIELD(attn_cpu_kv),    FIELD(int_gemv_rows),  FIELD(q4_gemv_cols),
    FIELD(int_gemm_rows),  FIELD(int_gemm_pass),  FIELD(int_gemm_q4_cols), FIELD(int_gemm_groups),
};
#undef FIELD

int clf__profile_field_count(void) { return (int)CLF_ARRAY_LEN(fields); }

const clf__profile_field *clf__profile_field_at(int i)
{
    return i >= 0 && i < clf__profile_field_count() ? &fields[i] : NULL;
}

const clf__profile_field *clf__profile_field_find(const char *name)
{
    for (int i = 0; i < clf__profile_field_count(); i++)
        if (strcmp(fields[i].name, name) == 0) return &fields[i];
    return NULL;
}

int *clf__profile_field_ptr(clf_kernel_profile *p, const clf__profile_field *f)
{
    return (int *)(void *)((char *)p + f->offset);
}

static bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

static bool vec_width(int v) { return v == 4 || v == 8 || v == 16; }

/* A power of two from lo to hi (hi capped by the work-group limit wg). */
static bool pow2_in(int v, int lo, uint64_t hi, uint64_t wg)
{
    return pow2(v) && v >= lo && (uint64_t)v <= (hi < wg ? hi : wg);
}

static clf_status bad(const char *field, int value, const char *rule)
{
    return clf__error(NULL, CLF_ERR_INVALID_ARG, "kernel profile: %s = %d: %s", field, value, rule);
}

static clf_status check_gemm_tile(const clf_kernel_profile *p, uint64_t wg)
{
    int tm = p->gemm_tile_m, tn = p->gemm_tile_n, tk = p->gemm_tile_k;
    int wm = p->gemm_work_m, wn = p->gemm_work_n;
    if (tm == 0 && tn == 0 && tk == 0 && wm == 0 && wn == 0) return CLF_OK; /* no tile fits */
    if (!pow2(tm) || !pow2(tn) || !pow2(tk) || !pow2(wm) || !pow2(wn) || tm > 256 || tn > 256 ||
        tk > 64 || wm > 16 || wn > 16 || tm % wm || tn % wn)
        return bad("gemm_tile_m", tm,
                   "GPU GEMM tiles are powers of two (TM, TN <= 256, TK <= 64, WM, WN <= 16) "
                   "with WM dividing TM and WN dividing TN");
    uint64_t items = (uint64_t)(tm / wm) * (uint64_t)(tn / wn);
    uint64_t bytes = (uint64_t)((tm + 1) + (tn + 1)) * (uint64_t)tk * 4;
    if (items > wg) return bad("gemm_tile_m", tm, "the tile needs more work-items than a group allows");
    if ((uint64_t)(tm * tk) % items || (uint64_t)(tn * tk) % items)
        return bad("gemm_tile_k", tk, "TM*TK and TN*TK must be multiples of the tile's work-items");
    if (bytes > p->limits.local_mem_bytes)
        return bad("gemm_tile_k", tk, "the tile's local memory exceeds the device's");
    return CLF_OK;
}

clf_status clf_kernel_profile_check(const clf_kernel_profile *p)
{
    if (!p) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_kernel_profile_check: NULL profile");
    uint64_t wg = clf__limits_group_max(&p->limits);
    if (p->family != CLF_KERNELS_CPU && p->family != CLF_KERNELS_GPU)
        return bad("family", (int)p->family, "must be CPU or GPU");
    if (p->gemv_max_m < 0 || p->gemv_max_m > 8) return bad("gemv_max_m", p->gemv_max_m, "0..8");
    if (!pow2_in(p->gemv_split, 1, 256, wg))
        return bad("gemv_split", p->gemv_split, "a power of two up to 256 and the work-group limit");
    if (!vec_width(p->gemv_vec)) return bad("gemv_vec", p->gemv_vec, "4, 8 or 16");
    if (!vec_width(p->gemv_vec_n)) return bad("gemv_vec_n", p->gemv_vec_n, "4, 8 or 16");
    if (!vec_width(p->gemm_vec)) return bad("gemm_vec", p->gemm_vec, "4, 8 or 16");
    if (p->gemv_cols_t < 1 || p->gemv_cols_t > 8) return bad("gemv_cols_t", p->gemv_cols_t, "1..8");
    if (p->gemv_cols_n < 1 || p->gemv_cols_n > 8) return bad("gemv_cols_n", p->gemv_cols_n, "1..8");
    /* The GEMV's group is shrunk to the limits at launch: only the range is checked. */
    if (!pow2_in(p->gemv_rows_t, 1, 256, UINT64_MAX)) return bad("gemv_rows_t", p->gemv_rows_t, "a power of two up to 256");
    if (!pow2_in(p->gemv_rows_n, 1, 256, UINT64_MAX)) return bad("gemv_rows_n", p->gemv_rows_n, "a power of two up to 256");
    CLF_TRY(check_gemm_tile(p, wg));
    if (!pow2_in(p->row_wg_max, 1, 1024, wg))
        return bad("row_wg_max", p->row_wg_max, "a power of two up to 1024 and the work-group limit");
    if (!pow2_in(p->row_wg_min, 1, (uint64_t)p->row_wg_max, wg))
        return bad("row_wg_min", p->row_wg_min, "a power of two up to row_wg_max");
    if (!pow2_in(p->rows_wg, 1, 1024, wg)) return bad("rows_wg", p->rows_wg, "a power of two up to the work-group limit");
    if (!pow2_in(p->elementwise_wg, 1, 1024, wg))
        return bad("elementwise_wg", p->elementwise_wg, "a power of two up to the work-group limit");
    if (!vec_width(p->attn_vec)) return bad("attn_vec", p->attn_vec, "4, 8 or 16");
    if (!pow2_in(p->attn_block_m, 1, 256, wg))
        return bad("attn_block_m", p->attn_block_m, "a power of two up to 256 and the work-group limit");
    /* Flash and decode tiles shrink to the local memory per head size at launch. */
    if (!pow2_in(p->attn_block_n, 4, 128, UINT64_MAX))
        return bad("attn_block_n", p->attn_block_n, "a power of two from 4 to 128");
    if (!pow2_in(p->attn_decode_wg, 1, 256, wg))
        return bad("attn_decode_wg", p->attn_decode_wg, "a power of two up to 256 and the work-group limit");
    bool cpu = p->family == CLF_KERNELS_CPU;
    if (cpu ? p->attn_cpu_rows < 2 || p->attn_cpu_rows > 8 || p->attn_cpu_rows % 2 : p->attn_cpu_rows != 0)
        return bad("attn_cpu_rows", p->attn_cpu_rows, "2, 4, 6 or 8 in the CPU family, 0 in the GPU family");
    if (p->attn_splits_per_cu < 1 || p->attn_splits_per_cu > 64)
        return bad("attn_splits_per_cu", p->attn_splits_per_cu, "1..64");
    if (p->attn_cpu_acc < 64 || p->attn_cpu_acc > 16384)
        return bad("attn_cpu_acc", p->attn_cpu_acc, "64..16384 floats");
    if (p->attn_cpu_kv < 512 || p->attn_cpu_kv > (1 << 20))
        return bad("attn_cpu_kv", p->attn_cpu_kv, "512..1048576 floats");
    if (!pow2_in(p->int_gemv_rows, 32, 1024, UINT64_MAX))
        return bad("int_gemv_rows", p->int_gemv_rows, "a power of two from 32 to 1024");
    if (p->q4_gemv_cols < 1 || p->q4_gemv_cols > 4) return bad("q4_gemv_cols", p->q4_gemv_cols, "1..4");
    if (p->int_gemm_rows < 1 || p->int_gemm_rows > 16) return bad("int_gemm_rows", p->int_gemm_rows, "1..16");
    if (p->int_gemm_pass < 1 || p->int_gemm_pass > 4) return bad("int_gemm_pass", p->int_gemm_pass, "1..4");
    if (p->int_gemm_q4_cols < 1 || p->int_gemm_q4_cols > 4)
        return bad("int_gemm_q4_cols", p->int_gemm_q4_cols, "1..4");
    if (p->int_gemm_groups < 1 || p->int_gemm_groups > 16)
        return bad("int_gemm_groups", p->int_gemm_groups, "1..16");
    if (p->half_math < CLF_HALF_MATH_OFF || p->half_math > CLF_HALF_MATH_TILEACC)
        return bad("half_math", p->half_math, "0, 1 or 2");
    if (p->half_math != CLF_HALF_MATH_OFF && !p->limits.fp16)
        return bad("half_math", p->half_math, "0 on a device without cl_khr_fp16");
    return CLF_OK;
}
