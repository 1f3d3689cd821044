/*
 * clformer device layer: every OpenCL platform and device present, what each
 * can do, how it is classified, and how one is chosen.
 *
 * Classification is by capability, never by vendor name: a GPU that shares
 * memory with the host is an integrated GPU, any other GPU is discrete.
 * Selection prefers discrete GPU > integrated GPU > accelerator > CPU; within
 * a class, a measured score (clf_device_info.score, filled by the runtime's
 * clf_devices_score in context.h) decides, else compute units x clock. The
 * user overrides it with a selection string (see clf_device_select) given in
 * the context params or in the CLFORMER_DEVICE environment variable.
 *
 * Threads: every function here may be called from any number of threads at
 * once. They work on the caller's arrays (each thread its own, or shared
 * read-only) and keep no state, except the first enumeration of the
 * drivers, which the library serialises (see context.h, "Threads"); errors
 * go to the calling thread's clf_context_last_error(NULL).
 */
#ifndef CLFORMER_DEVICE_H
#define CLFORMER_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device classes, by capability. Values are only appended. */
typedef enum clf_device_class {
    CLF_DEVICE_CPU = 0,         /* CL_DEVICE_TYPE_CPU */
    CLF_DEVICE_ACCELERATOR = 1, /* CL_DEVICE_TYPE_ACCELERATOR or CUSTOM */
    CLF_DEVICE_IGPU = 2,        /* a GPU with host-unified memory */
    CLF_DEVICE_DGPU = 3,        /* a GPU with its own memory */
} clf_device_class;

#define CLF_MAX_SUBGROUP_SIZES 8

/* One device as the driver describes it. Plain data: copy it freely. Strings
 * are NUL-terminated and truncated to their array size. */
typedef struct clf_device_info {
    int platform_index;             /* index of the platform in clGetPlatformIDs order */
    int device_index;               /* index of the device within its platform */
    char name[256];                 /* CL_DEVICE_NAME */
    char vendor[256];               /* CL_DEVICE_VENDOR */
    char driver_version[128];       /* CL_DRIVER_VERSION */
    char device_version[128];       /* CL_DEVICE_VERSION ("OpenCL 3.0 ...") */
    char opencl_c_version[128];     /* CL_DEVICE_OPENCL_C_VERSION */
    char platform_name[256];        /* CL_PLATFORM_NAME */
    char platform_version[256];     /* CL_PLATFORM_VERSION */
    uint64_t cl_type;               /* CL_DEVICE_TYPE bit field */
    clf_device_class device_class;  /* from clf_device_classify() */
    uint32_t compute_units;         /* CL_DEVICE_MAX_COMPUTE_UNITS */
    uint32_t clock_mhz;             /* CL_DEVICE_MAX_CLOCK_FREQUENCY, MHz */
    uint64_t global_mem_bytes;      /* CL_DEVICE_GLOBAL_MEM_SIZE, bytes */
    uint64_t max_alloc_bytes;       /* CL_DEVICE_MAX_MEM_ALLOC_SIZE, bytes */
    uint64_t local_mem_bytes;       /* CL_DEVICE_LOCAL_MEM_SIZE, bytes */
    bool local_mem_dedicated;       /* CL_LOCAL vs CL_GLOBAL local memory type */
    uint64_t max_work_group_size;   /* CL_DEVICE_MAX_WORK_GROUP_SIZE, work-items */
    uint32_t pref_vector_float;     /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    uint32_t pref_vector_half;      /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, 0 = none */
    uint32_t native_vector_float;   /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT */
    bool fp16;                      /* cl_khr_fp16: half arithmetic in kernels */
    bool fp64;                      /* cl_khr_fp64 or a double config */
    bool subgroups;                 /* cl_khr_subgroups or __opencl_c_subgroups */
    uint32_t n_subgroup_sizes;      /* entries used in subgroup_sizes */
    uint32_t subgroup_sizes[CLF_MAX_SUBGROUP_SIZES]; /* known SIMD widths, 0 entries if unknown */
    bool unified_memory;            /* CL_DEVICE_HOST_UNIFIED_MEMORY */
    bool available;                 /* CL_DEVICE_AVAILABLE and CL_DEVICE_COMPILER_AVAILABLE */
    uint32_t quirks;                /* CLF_QUIRK_* bits from the device layer's quirk table */
    double score;                   /* measured speed of a short representative workload, higher
                                     * is faster; 0 = not measured (clf_devices_list leaves it 0;
                                     * clf_devices_score in context.h fills it) */
    bool int_dot8;                  /* cl_khr_integer_dot_product: dot on char4 */
} clf_device_info;

/* Lists every device of every platform. On success *out is an array of
 * *count >= 1 entries that the caller frees with clf_devices_free(). No
 * platform (an ICD loader with no vendor installed) or no device at all is
 * CLF_ERR_NO_DEVICE, with a message in clf_context_last_error(NULL). */
CLF_API clf_status clf_devices_list(clf_device_info **out, size_t *count);

/* Frees an array from clf_devices_list(). NULL is a no-op. */
CLF_API void clf_devices_free(clf_device_info *devices);

/* The class of a device from its capabilities (type bits and unified memory).
 * Pure: works on synthetic records. */
CLF_API clf_device_class clf_device_classify(const clf_device_info *info);

/* "dgpu", "igpu", "accelerator" or "cpu". Never NULL. */
CLF_API const char *clf_device_class_name(clf_device_class cls);

/*
 * Picks one of n devices. spec selects:
 *   NULL or "" or "best"  the best device: dGPU > iGPU > accelerator > CPU;
 *                         within a class, when both devices have a score > 0
 *                         the higher score wins, otherwise compute units x
 *                         clock, then the order;
 *   "gpu"                 the best GPU (discrete first);
 *   "dgpu", "igpu", "cpu", "accelerator"  the best device of that class;
 *   "P:D"                 platform index P, device index D;
 *   anything else         the best device whose name contains spec,
 *                         case-insensitively.
 * Unavailable devices are never picked. Scores count wherever the records
 * carry them (pure: this never measures); clf_device_choose() in context.h
 * is the context's policy of when to fill them. On success *index is the
 * position in devices[]. If nothing matches: CLF_ERR_NO_DEVICE, and the
 * message from clf_context_last_error(NULL) lists the devices that exist.
 * Pure: works on synthetic records. Does not read CLFORMER_DEVICE (the
 * context does).
 */
CLF_API clf_status clf_device_select(const clf_device_info *devices, size_t n, const char *spec,
                                     size_t *index);

/*
 * The kernel profile: how clformer's kernels are shaped for one device,
 * decided in one place (src/device/profile.c) from the device's capabilities
 * and the quirk table, the only place a vendor or driver name is read. Ops
 * read the profile; they never test the device class themselves.
 */

/* The two kernel families. Every op has both; either runs on any device
 * (the conformance suite forces each onto every device). */
typedef enum clf_kernel_family {
    CLF_KERNELS_AUTO = 0, /* the profile's choice: CPU for CPU devices, else GPU */
    CLF_KERNELS_CPU = 1,  /* a work-item per row or register block with explicit vectors, no
                           * local memory: for devices that run a work-group as a loop on one core */
    CLF_KERNELS_GPU = 2,  /* local-memory tiles, split-K GEMV, work-group reductions */
} clf_kernel_family;

/* "auto", "cpu" or "gpu". Never NULL. */
CLF_API const char *clf_kernel_family_name(clf_kernel_family family);

/* The device as the kernels are planned for: the driver's figures, or
 * smaller ones when limits are simulated (see clf_kernel_profile_make). */
typedef struct clf_device_limits {
    uint64_t max_work_group_size;    /* work-items per group, device-wide */
    uint64_t kernel_work_group_size; /* a further cap on every kernel's own limit
                                      * (CL_KERNEL_WORK_GROUP_SIZE); 0 = none (simulation only) */
    uint64_t local_mem_bytes;        /* local memory per work-group */
    uint64_t max_alloc_bytes;        /* largest single buffer */
    bool fp16;                       /* cl_khr_fp16 used (half arithmetic) */
    bool subgroups;                  /* subgroup fast paths allowed */
    int opencl_version;              /* 120, 200, 300: the highest version used */
} clf_device_limits;

/* Workarounds the profile applies (from the quirk table). */
enum {
    CLF_WORKAROUND_HALF8_UNALIGNED = 1u << 0, /* vload_halfN/vstore_halfN fault off N*2-byte
                                               * alignment: move bits as ushortN, convert in
                                               * private memory */
};

typedef struct clf_kernel_profile {
    clf_kernel_family family;  /* CPU or GPU, never AUTO */
    char family_reason[96];    /* why: "device type CPU", "forced by CLFORMER_KERNELS", ... */
    clf_device_limits limits;  /* the view of the device every plan below respects */
    bool limits_simulated;     /* limits were shrunk on request */
    uint32_t workarounds;      /* CLF_WORKAROUND_* bits */
    /* GEMM */
    int gemv_max_m;            /* M up to this takes the GEMV kernel (0..8) */
    int gemv_split;            /* GPU GEMV: work-items splitting K per column (1 = no split) */
    int gemv_vec;              /* GEMV: floats per vector load */
    int gemm_vec;              /* CPU register GEMM: floats per vector (4, 8, 16) */
    int gemm_tile_m, gemm_tile_n, gemm_tile_k, gemm_work_m, gemm_work_n; /* GPU tiled GEMM */
    bool gemm_measure_clblast; /* GEMM's auto provider measures CLBlast against ours */
    /* rows: softmax, norm, top-k */
    bool row_per_item;         /* a work-item per contiguous row (CPU family) */
    int row_wg_min, row_wg_max; /* work-group sizes of the work-group row kernels */
    int elementwise_wg;        /* work-group size of 1-D elementwise and copy launches */
    /* attention */
    int attn_vec;              /* floats per vector in the attention kernels */
    int attn_block_m;          /* flash: query rows per work-group (GPU family) */
    int attn_block_n;          /* flash: keys per local tile, head_dim <= 80 (halved above) */
    int attn_decode_wg;        /* split-key decode: work-items per group, head_dim <= 80 */
    int attn_cpu_rows;         /* CPU flash: query rows per work-item; 0 in the GPU family */
    int attn_splits_per_cu;    /* split-key decode: target groups per compute unit */
    /* half arithmetic (cl_khr_fp16), for the kernels whose operands are stored as f16 (GEMM
     * and GEMV with f16 B, attention with f16 q/k/v); f32 operands always get f32 arithmetic */
    int half_math;             /* CLF_HALF_MATH_*: 0 unless limits.fp16 */
    char half_reason[64];      /* why: "no cl_khr_fp16", "CPU device: measured slower", ... */
    /* Appended with the autotuner (clformer/tune.h): choices the plans used to
     * keep as constants, with the same defaults, so an untuned profile shapes
     * every kernel exactly as before. */
    int gemv_vec_n;            /* GEMV with B not transposed: floats per vector (4, 8, 16);
                                * gemv_vec is the B-transposed (weight-row) layout's */
    int gemv_cols_t, gemv_cols_n; /* GEMV: output columns (B transposed) or vectors of
                                * columns (not transposed) per work-item, 1..8 */
    int gemv_rows_t, gemv_rows_n; /* GEMV: work-items along N per group (local dim 1),
                                * a power of two; shrunk to the limits at launch */
    int rows_wg;               /* row-per-item kernels (CPU family norm, softmax, top-k):
                                * work-items per group at most, a power of two */
    int attn_cpu_acc;          /* CPU flash: accumulator floats per work-item (sets FLASH_G) */
    int attn_cpu_kv;           /* CPU flash: floats of one K/V key chunk (sets FLASH_KC) */
    bool tuned;                /* values from the autotuner's stored results were applied */
    /* int8 x int8 (ops.h, clf_gemm_i8) */
    bool gemm_i8;              /* clf_gemm with a Q8 b and M <= gemv_max_m quantises a's rows
                                * to int8 and sums integer products (clf_gemm_i8) */
    bool gemm_i8_dot;          /* clf_gemm_i8 uses dot on char4 (device int_dot8 and
                                * limits.opencl_version >= 300) */
    int gemv_i16;              /* GEMMs over a Q8 or Q4 weight quantise the activation rows
                                * (Q8: int16, Q4: int8 per 32 elements) and sum integer
                                * products (M = 1, interleaved Q8 or Q4: kernels/gemv.cl,
                                * CLF_GI16; M > 1: kernels/gemm_i16.cl): 0 never; 1 where the
                                * device's compiler offers x86's pmaddwd and pmaddubsw (CPU
                                * family default; elsewhere their f32 forms); 2 on every
                                * device, with portable products (tests). $CLFORMER_GEMV_I16 */
    /* Appended: the shapes of the integer forms and of the Q4 GEMV (CPU family; tunable,
     * the defaults as the plans had them as constants) */
    int int_gemv_rows;         /* integer GEMV (M = 1): weight rows per block, a power of
                                * two 32..1024 [128]; a work-group per block, or with more
                                * blocks than compute units one per unit taking blocks
                                * from a counter (each quantises A once) */
    int q4_gemv_cols;          /* CPU family Q4 GEMV: weight rows per work-item at most, 1..4,
                                * halved (at least 1) for K >= 2048 [2] */
    int int_gemm_rows;         /* clf_gemm_i16 (M > 1): rows of A per work-group, 1..16,
                                * fewer where local memory is short [16] */
    int int_gemm_pass;         /* clf_gemm_i16: rows of A per pass over an item's weight
                                * rows, 1..4 (not with Q8 interleaved by 8: 1) [2] */
    int int_gemm_q4_cols;      /* clf_gemm_i16 over Q4: weight rows per work-item, 1..4 [2] */
    int int_gemm_groups;       /* clf_gemm_i16: work-groups per compute unit along N at most
                                * (each quantises its rows of A once, then its items take
                                * every such group's further columns), 1..16 [2] */
} clf_kernel_profile;

/* Values of clf_kernel_profile.half_math (and of $CLFORMER_HALF_MATH). Activations and
 * outputs stay f32 at every op boundary in all modes: this only changes the arithmetic
 * inside the kernels. Level 1 and 2 differ in the GEMM / GEMV only; attention computes
 * its products in half and everything else (softmax statistics, P.V sums) in f32 at both. */
enum {
    CLF_HALF_MATH_OFF = 0,   /* f32 arithmetic (f16 operands are converted on load) */
    CLF_HALF_MATH_F32ACC = 1, /* products of f16 operands in half, each added to an f32 sum */
    CLF_HALF_MATH_TILEACC = 2, /* fma in half over one K tile (GEMM: TK terms; GEMV: 8 vector
                                * steps per lane), each tile's sum flushed to an f32 total */
};

/*
 * The profile of a device. family AUTO takes the profile's own choice.
 * limits shrinks the device's limits for testing, a comma list of
 * key=value (NULL or "" = none): wg=N (max work-group size), kernel_wg=N
 * (cap on every kernel's work-group size), local=BYTES, alloc=BYTES, fp16=0,
 * subgroups=0, cl=1.2|2.0|3.0. Values may only shrink what the device has.
 * A malformed list is CLF_ERR_INVALID_ARG naming the item. Pure: works on
 * synthetic records. half_math: 0 without fp16 (in the limits, so fp16=0
 * turns it off); with fp16, 1 on GPUs and accelerators and 0 on CPU devices
 * (measured slower there), whatever the family (docs/half_math.md).
 */
CLF_API clf_status clf_kernel_profile_make(const clf_device_info *info, clf_kernel_family family,
                                           const char *limits, clf_kernel_profile *out);

/* Whether every field of *p is one the kernels accept within p->limits:
 * vector widths 4, 8 or 16; work-group sizes powers of two within the
 * work-group limit; GPU GEMM tiles that divide into their work-items and
 * fit the local memory; attention rows and chunks within the kernels'
 * ranges. CLF_ERR_INVALID_ARG names the first field that is not, with its
 * value and the rule. Pure. The autotuner checks every candidate with it,
 * and a stored result that fails it is ignored. */
CLF_API clf_status clf_kernel_profile_check(const clf_kernel_profile *p);

/* The profile a context makes (clf_context_create): as above, with family
 * AUTO taken from $CLFORMER_KERNELS (cpu, gpu or auto; anything else is
 * CLF_ERR_INVALID_ARG), limits NULL from $CLFORMER_DEVICE_LIMITS,
 * $CLFORMER_GEMV_MAX_M (0..8) moving gemv_max_m, $CLFORMER_HALF_MATH
 * (0, 1 or 2; anything else is CLF_ERR_INVALID_ARG) overriding half_math on
 * a device whose limits have fp16 (without fp16 half_math stays 0 whatever
 * the variable says; half_reason then says so), and $CLFORMER_GEMM_I8 (0
 * off, 1 on, 2 on with the dot-product form where the device has it)
 * setting gemm_i8 and gemm_i8_dot. */
CLF_API clf_status clf_kernel_profile_resolve(const clf_device_info *info, clf_kernel_family family,
                                              const char *limits, clf_kernel_profile *out);

#ifdef __cplusplus
}
#endif
#endif
