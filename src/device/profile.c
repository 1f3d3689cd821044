/*
 * The kernel profile: every per-device decision about how kernels are shaped
 * (family, tiles, work-group sizes, vector widths, workarounds), made here
 * once from the device's capabilities and the quirk table. Ops read the
 * result and never look at the device class. Pure: no OpenCL call, so the
 * policy is tested on synthetic devices.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device_internal.h"

const char *clf_kernel_family_name(clf_kernel_family family)
{
    switch (family) {
    case CLF_KERNELS_AUTO: return "auto";
    case CLF_KERNELS_CPU: return "cpu";
    case CLF_KERNELS_GPU: return "gpu";
    }
    return "unknown";
}

/* "OpenCL 3.0 PoCL ..." -> 300; anything unreadable -> 120, the floor we build for. */
static int opencl_version(const char *device_version)
{
    int major = 0, minor = 0;
    if (sscanf(device_version, "OpenCL %d.%d", &major, &minor) != 2 || major < 1) return 120;
    return major * 100 + minor * 10;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* One "key=value" of a limits list applied to *l. Returns 0 on success. */
static int apply_limit(clf_device_limits *l, const char *key, size_t klen, const char *val)
{
#define KEY_IS(s) (klen == sizeof(s) - 1 && strncmp(key, s, klen) == 0)
    if (KEY_IS("cl")) {
        int major = 0, minor = 0;
        if (sscanf(val, "%d.%d", &major, &minor) != 2 || major < 1 || major > 3 || minor < 0 || minor > 9)
            return -1;
        int v = major * 100 + minor * 10;
        if (v < l->opencl_version) l->opencl_version = v;
        return 0;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(val, &end, 10);
    if (errno || end == val || *val == '-') return -1;
    unsigned long long mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm') mult = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g') mult = 1ull << 30, end++;
    if (*end != '\0' && *end != ',') return -1;
    if (n > UINT64_MAX / mult) return -1;
    uint64_t v = (uint64_t)(n * mult);
    if (KEY_IS("fp16") || KEY_IS("subgroups")) {
        if (v > 1) return -1;
        bool *b = KEY_IS("fp16") ? &l->fp16 : &l->subgroups;
        *b = *b && v == 1;
        return 0;
    }
    if (v == 0) return -1;
    if (KEY_IS("wg")) l->max_work_group_size = min_u64(l->max_work_group_size, v);
    else if (KEY_IS("kernel_wg"))
        l->kernel_work_group_size = l->kernel_work_group_size ? min_u64(l->kernel_work_group_size, v) : v;
    else if (KEY_IS("local")) l->local_mem_bytes = min_u64(l->local_mem_bytes, v);
    else if (KEY_IS("alloc")) l->max_alloc_bytes = min_u64(l->max_alloc_bytes, v);
    else return -1;
    return 0;
#undef KEY_IS
}

static clf_status parse_limits(const char *text, clf_device_limits *l)
{
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *key = p;
        while (*p && *p != '=' && *p != ',') p++;
        if (*p != '=' || p == key) goto bad;
        size_t klen = (size_t)(p - key);
        const char *val = ++p;
        while (*p && *p != ',') p++;
        if (apply_limit(l, key, klen, val) != 0) goto bad;
        continue;
    bad:
        while (*p && *p != ',') p++;
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "device limits \"%s\": cannot read \"%.*s\" (expected a comma list of "
                          "wg=N, kernel_wg=N, local=BYTES, alloc=BYTES, fp16=0|1, subgroups=0|1, "
                          "cl=1.2|2.0|3.0; sizes may end in K, M or G)",
                          text, (int)(p - key), key);
    }
    return CLF_OK;
}

/* Tiles of the GPU GEMM, largest first; the first that fits the work-group
 * and local-memory limits is the profile's. Each keeps the kernel's
 * preconditions: (TM*TK) and (TN*TK) multiples of (TM/WM)*(TN/WN). */
static const int gemm_tiles[][5] = {
    /* TM  TN  TK  WM  WN     work-items  local bytes */
    {64, 64, 16, 4, 4}, /*  256         8320 */
    {32, 64, 8, 2, 8},  /*  128         3136 */
    {32, 32, 8, 4, 4},  /*   64         2112 */
    {16, 16, 8, 4, 4},  /*   16         1088 */
    {8, 8, 4, 4, 4},    /*    4          288 */
};

int clf__gemm_tile_count(void) { return (int)CLF_ARRAY_LEN(gemm_tiles); }

int clf__gemm_tile_fits(int i, uint64_t max_items, uint64_t local_bytes)
{
    const int *t = gemm_tiles[i];
    uint64_t items = (uint64_t)(t[1] / t[4]) * (uint64_t)(t[0] / t[3]);
    uint64_t bytes = (uint64_t)((t[0] + 1) + (t[1] + 1)) * (uint64_t)t[2] * 4;
    return items <= max_items && bytes <= local_bytes;
}

void clf__gemm_tile(int i, int out[5]) { memcpy(out, gemm_tiles[i], sizeof gemm_tiles[i]); }

uint64_t clf__limits_group_max(const clf_device_limits *l)
{
    uint64_t wg = l->max_work_group_size;
    if (l->kernel_work_group_size && l->kernel_work_group_size < wg) wg = l->kernel_work_group_size;
    return wg;
}

/* Halves v (a power of two) until it is at most cap, never below floor. */
static int fit_pow2(int v, uint64_t cap, int floor)
{
    while (v > floor && (uint64_t)v > cap) v /= 2;
    return v;
}

clf_status clf_kernel_profile_make(const clf_device_info *info, clf_kernel_family family,
                                   const char *limits, clf_kernel_profile *out)
{
    if (!info || !out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_kernel_profile_make: NULL argument");
    if (family != CLF_KERNELS_AUTO && family != CLF_KERNELS_CPU && family != CLF_KERNELS_GPU)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_kernel_profile_make: unknown family %d",
                          (int)family);
    clf_kernel_profile p;
    memset(&p, 0, sizeof p);

    /* Limits: the driver's figures, then anything the caller shrinks. */
    clf_device_limits *l = &p.limits;
    l->max_work_group_size = info->max_work_group_size ? info->max_work_group_size : 1;
    l->local_mem_bytes = info->local_mem_bytes;
    l->max_alloc_bytes = info->max_alloc_bytes;
    l->fp16 = info->fp16;
    l->subgroups = info->subgroups;
    l->opencl_version = opencl_version(info->device_version);
    if (limits && *limits) {
        clf_device_limits real = *l;
        CLF_TRY(parse_limits(limits, l));
        p.limits_simulated = memcmp(&real, l, sizeof real) != 0;
    }

    /* Family: a CPU device runs a work-group as a loop on one core, where
     * local memory is ordinary cache and barriers are loop splits; a work-item
     * per row or register block with explicit vectors wins there. Everything
     * else (GPUs, accelerators) gets local-memory tiles and reductions. */
    bool cpu_device = (info->cl_type & CL_DEVICE_TYPE_CPU) != 0;
    if (family == CLF_KERNELS_AUTO) {
        p.family = cpu_device ? CLF_KERNELS_CPU : CLF_KERNELS_GPU;
        snprintf(p.family_reason, sizeof p.family_reason, "device type %s",
                 cpu_device ? "CPU" : info->cl_type & CL_DEVICE_TYPE_GPU ? "GPU" : "accelerator");
    } else {
        p.family = family;
        snprintf(p.family_reason, sizeof p.family_reason, "forced");
    }
    bool cpu = p.family == CLF_KERNELS_CPU;
    uint64_t wg = clf__limits_group_max(l);
    uint32_t nvf = info->native_vector_float;

    /* Workarounds from the quirk table. */
    if (info->quirks & CLF_QUIRK_HALF8_ALIGN) p.workarounds |= CLF_WORKAROUND_HALF8_UNALIGNED;

    /* GEMM. CPUs: the register-blocked kernel reads each weight once while M
     * fits one row of its work-items and measured as fast as the GEMV from
     * M = 2 (PoCL, AVX-512, BERT/GPT-2 shapes); the GEMV stays for M = 1.
     * GPUs keep the GEMV to M = 8, where the alternative is a 64 x 64 tile. */
    p.gemv_max_m = cpu ? 1 : 8;
    p.gemv_split = cpu ? 1 : fit_pow2(32, wg / 4 ? wg / 4 : 1, 1);
    p.gemv_vec = cpu ? (nvf >= 8 ? 16 : 8) : 4;
    /* The GEMV's work-item shape per layout: CPUs a few columns per item and
     * no split (B transposed: 4 columns, 8 items per group; not transposed:
     * 8 vectors of 8, 4 items), GPUs one column per item split over K. */
    p.gemv_vec_n = cpu ? 8 : p.gemv_vec;
    p.gemv_cols_t = cpu ? 4 : 1, p.gemv_rows_t = cpu ? 8 : 4;
    p.gemv_cols_n = cpu ? 8 : 1, p.gemv_rows_n = 4;
    p.gemm_vec = nvf >= 16 ? 16 : nvf >= 8 ? 8 : 4;
    int tile = -1;
    for (int i = 0; i < clf__gemm_tile_count() && tile < 0; i++)
        if (clf__gemm_tile_fits(i, wg, l->local_mem_bytes)) tile = i;
    if (tile >= 0) {
        int t[5];
        clf__gemm_tile(tile, t);
        p.gemm_tile_m = t[0], p.gemm_tile_n = t[1], p.gemm_tile_k = t[2];
        p.gemm_work_m = t[3], p.gemm_work_n = t[4];
    }
    /* CLBlast's kernels are tuned for GPUs: on PoCL they ran 7-15x slower than
     * ours on every GEMM bench shape, and measuring them costs a ~10 s compile
     * at the first GEMM of a process. */
    p.gemm_measure_clblast = !cpu_device;

    /* Rows. PoCL runs a group as a loop on one core and vectorises across it:
     * 16-128 work best there; GPUs 32-256. */
    p.row_per_item = cpu;
    p.row_wg_max = fit_pow2(cpu ? 128 : 256, wg, 1);
    p.row_wg_min = fit_pow2(cpu ? 16 : 32, (uint64_t)p.row_wg_max, 1);
    p.elementwise_wg = fit_pow2(cpu ? 64 : 256, wg, 1);
    p.rows_wg = fit_pow2(16, wg, 1);

    /* Attention. PoCL does not vectorise these kernels across work-items: the
     * speed comes from explicit float vectors of the native width. */
    if (cpu) {
        p.attn_vec = nvf >= 8 ? 8 : 4;
        p.attn_block_m = 32, p.attn_block_n = 32, p.attn_decode_wg = 16, p.attn_cpu_rows = 4;
        p.attn_splits_per_cu = 2;
    } else {
        p.attn_vec = 4;
        p.attn_block_m = 64, p.attn_block_n = 32, p.attn_decode_wg = 64, p.attn_cpu_rows = 0;
        p.attn_splits_per_cu = 4;
    }
    /* CPU flash: about 2048 floats of accumulators per work-item, and key
     * chunks of 16384 floats (K + V of a chunk ~128 KiB, so they stay in L2
     * while every row group of the work-item uses them). */
    p.attn_cpu_acc = 2048, p.attn_cpu_kv = 16384;
    p.attn_block_m = fit_pow2(p.attn_block_m, wg, 1);
    p.attn_decode_wg = fit_pow2(p.attn_decode_wg, wg, 1);

    /* Half arithmetic only where cl_khr_fp16 exists. GPUs run half at two or
     * more times the f32 rate and move half the bytes through local memory:
     * on, with f32 accumulation (not measured here: no GPU on the machines
     * this was written on). CPU devices: off. On Intel's CPU runtime (AVX-512,
     * 2 cores) the f16 GEMV and tiled GEMM ran slower with half products than
     * with f32 (x86 has no half arithmetic before AVX512-FP16: the compiler
     * converts each product to f32 and back), see docs/half_math.md. */
    if (!l->fp16) {
        p.half_math = CLF_HALF_MATH_OFF;
        snprintf(p.half_reason, sizeof p.half_reason, "no cl_khr_fp16");
    } else if (cpu_device) {
        p.half_math = CLF_HALF_MATH_OFF;
        snprintf(p.half_reason, sizeof p.half_reason, "CPU device: measured slower than f32");
    } else {
        p.half_math = CLF_HALF_MATH_F32ACC;
        snprintf(p.half_reason, sizeof p.half_reason, "cl_khr_fp16 on a GPU or accelerator");
    }

    /* int8 x int8 (clf_gemm_i8): off by default, because it measured slower
     * than the in-kernel dequantisation on both CPU runtimes here (see
     * docs/gemm_kernels.md, "int8 x int8"); the dot-product form is chosen
     * from the device's extensions when the path runs. */
    p.gemm_i8 = false;
    /* int16 products over Q8 / Q4 weights (clf_gemv's CLF_GI16 at M = 1,
     * kernels/gemm_i16.cl at M > 1): GPT-2 small Q8 decode and prompt on PoCL, AVX2
     * EPYC: see docs/quantisation.md, "int16 x int8". Where the compiler
     * does not offer pmaddwd the kernels take their f32 forms. */
    p.gemv_i16 = cpu ? 1 : 0;
    /* Their shapes (src/ops/gemm_builtin.c, plan_gemv and plan_i16; measured there). */
    p.int_gemv_rows = 128, p.q4_gemv_cols = 2;
    p.int_gemm_rows = 16, p.int_gemm_pass = 2, p.int_gemm_q4_cols = 2;
    p.int_gemm_groups = 2;
    p.gemm_i8_dot = info->int_dot8 && l->opencl_version >= 300; /* dot needs OpenCL C 3.0 */
    *out = p;
    return CLF_OK;
}

clf_status clf_kernel_profile_resolve(const clf_device_info *info, clf_kernel_family family,
                                      const char *limits, clf_kernel_profile *out)
{
    const char *why = "clf_context_params.kernels";
    clf__prepare_opencl_env(); /* before this call reads the environment */
    if (family == CLF_KERNELS_AUTO) {
        const char *env = getenv("CLFORMER_KERNELS");
        why = "CLFORMER_KERNELS";
        if (!env || !*env || strcmp(env, "auto") == 0) family = CLF_KERNELS_AUTO;
        else if (strcmp(env, "cpu") == 0) family = CLF_KERNELS_CPU;
        else if (strcmp(env, "gpu") == 0) family = CLF_KERNELS_GPU;
        else
            return clf__error(NULL, CLF_ERR_INVALID_ARG,
                              "CLFORMER_KERNELS=\"%s\": expected cpu, gpu or auto", env);
    }
    if (!limits) limits = getenv("CLFORMER_DEVICE_LIMITS");
    CLF_TRY(clf_kernel_profile_make(info, family, limits, out));
    if (family != CLF_KERNELS_AUTO)
        snprintf(out->family_reason, sizeof out->family_reason, "forced by %s", why);
    const char *gemv = getenv("CLFORMER_GEMV_MAX_M");
    if (gemv && *gemv >= '0' && *gemv <= '8' && !gemv[1]) out->gemv_max_m = *gemv - '0';
    const char *half = getenv("CLFORMER_HALF_MATH");
    if (half && *half) {
        if (*half < '0' || *half > '2' || half[1])
            return clf__error(NULL, CLF_ERR_INVALID_ARG, "CLFORMER_HALF_MATH=\"%s\": expected 0, 1 or 2",
                              half);
        if (out->limits.fp16) {
            out->half_math = *half - '0';
            snprintf(out->half_reason, sizeof out->half_reason, "forced by CLFORMER_HALF_MATH");
        }
    }
    /* CLFORMER_GEMM_I8: 0 off, 1 on with portable sums, 2 on with the
     * dot-product form where the device has it. */
    const char *i16 = getenv("CLFORMER_GEMV_I16");
    if (i16 && *i16 >= '0' && *i16 <= '2' && !i16[1]) out->gemv_i16 = *i16 - '0';
    const char *i8 = getenv("CLFORMER_GEMM_I8");
    if (i8 && *i8 >= '0' && *i8 <= '2' && !i8[1]) {
        out->gemm_i8 = *i8 != '0';
        out->gemm_i8_dot = *i8 == '2' && info->int_dot8 && out->limits.opencl_version >= 300;
    }
    return CLF_OK;
}
