/*
 * Internal runtime: the context's guts, programs built from the embedded
 * kernel sources, kernels looked up by name, and the binary cache.
 */
#ifndef CLF_RUNTIME_H
#define CLF_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include <clformer/context.h>
#include <clformer/tensor.h>
#include <clformer/version.h>
#include "device/device_internal.h"

#define CLF__SCRATCH_SLOTS 5

/* ---- embedded kernel sources (generated from the kernels folder at build time) ---- */

typedef struct clf__kernel_file {
    const char *name;          /* file name without ".cl" */
    const unsigned char *data; /* source text, not NUL-terminated */
    size_t size;               /* bytes */
    int part;                  /* 1: not a program of its own (the prelude, or a
                                * file others #include), 0: a program */
} clf__kernel_file;

extern const clf__kernel_file clf__kernel_files[];
extern const size_t clf__kernel_files_count;

/* The prelude every program starts with (kernels/common.cl). */
#define CLF__PRELUDE_NAME "common"

/* The full source of program `name` (prelude + file), from the embedded copy
 * or, when CLFORMER_KERNEL_DIR is set, from <dir>/<name>.cl and
 * <dir>/common.cl. A line `#include "X.cl"` of the file (X a kernel file, at
 * most CLF__INCLUDE_DEPTH deep) is replaced by X's text between #line
 * directives, so build logs name the file and line. *text is NUL-terminated;
 * free it with clf__free. */
#define CLF__INCLUDE_DEPTH 2
clf_status clf__program_source(clf_context *ctx, const char *name, char **text, size_t *size);

/* ---- programs and kernels ---- */

typedef struct clf__kernel_slot {
    char *name;
    cl_kernel kernel;
} clf__kernel_slot;

typedef struct clf__program_slot {
    char *name;    /* program (file) name */
    char *options; /* extra build options, after the context's base options */
    cl_program program;
    clf__kernel_slot *kernels;
    size_t n_kernels, cap_kernels;
} clf__program_slot;

struct clf_buffer {
    clf_context *ctx;
    cl_mem mem;
    size_t size; /* bytes */
    /* A Q8 or Q4 buffer (tensor.h, "Q8", "Q4"): the rows and innermost
     * size of the tensor it was made for and the byte offset of its scale
     * table; 0 = not quantised. */
    int64_t q_rows, q_cols;
    size_t q_scales;
    /* A packed GEMM weight (clf_gemm_pack_b, src/ops/gemm_pack.c): panel rows
     * and vector width, K rounded up to pack_v, and the (N, K) it was made
     * from; pack_n = 0: a plain buffer. Only clf_gemm reads it (as b). */
    int pack_n, pack_v;
    int64_t pack_kp, pack_rows, pack_cols;
};

/* One profiled kernel launch (when the context was made with profiling). */
typedef struct clf__prof_event {
    const char *name; /* static: the kernel's name */
    cl_event event;
} clf__prof_event;

struct clf_context {
    clf__error_state error;   /* first member: the core writes the last error here */
    clf_device_info info;     /* the device as the driver describes it */
    clf_kernel_profile kprof; /* how ops shape kernels for it: read this, not info */
    clf_kernel_profile kprof_default; /* kprof before a stored tuning result was applied */
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    char *cache_dir;          /* NULL = disk cache off */
    char base_options[512];   /* build options derived from the device's capabilities */
    bool profiling;
    /* Large weights are host memory the library maps itself, aligned to
     * 2 MiB and advised for huge pages (a CPU device with unified memory,
     * and CLFORMER_HUGE_PAGES=1; mem_create in tensor.c). */
    bool host_pages;
    bool dry_run;                /* ops make their kernels ready but enqueue nothing (graph warm-up) */
    clf__program_slot *programs;
    size_t n_programs, cap_programs;
    clf_build_stats stats;
    cl_mem device_error;      /* int[4] raised by kernels (code, value, index, limit); lazy */
    cl_mem work_counter;      /* uint, zeroed: clf__work_counter; lazy */
    uint32_t work_epoch;      /* the last epoch clf__work_counter gave */
    long live_buffers;        /* device allocations made through clf_buffer_create, not freed */
    size_t live_buffer_bytes; /* and their bytes */
    size_t peak_buffer_bytes; /* the largest live_buffer_bytes seen */
    long blocking_calls;      /* host synchronisations: blocking reads, finishes */
    void *ops_state;          /* the ops layer's own state (opaque here); clf__free'd at free */
    cl_mem scratch[CLF__SCRATCH_SLOTS]; /* reusable device scratch, one per clf__scratch slot */
    size_t scratch_size[CLF__SCRATCH_SLOTS];
    clf__prof_event *prof;    /* profiled launches since the last clf_context_profile() */
    size_t n_prof, cap_prof;
    clf__owner owner;         /* the thread inside a public call on the context, if any */
    /* The context whose OpenCL context this one shares: itself, or for a
     * fork (clf__context_fork) the context it was forked from. Buffers of
     * contexts with one root are usable on each other's queues. */
    clf_context *root;
};

/* A context that shares parent's device, OpenCL context, kernel profile,
 * build options and cache folder, with its own in-order queue (never
 * profiling), program and kernel objects, scratch, error state and
 * one-thread guard:
 * what a session runs on, so that sessions of one model run on separate
 * threads at once. Reads only what parent never changes after creation, so
 * any thread may fork while another is inside parent. Free it with
 * clf_context_free, before parent. Errors go to the calling thread. */
clf_status clf__context_fork(const clf_context *parent, clf_context **out);

/* Whether a buffer of context a may be used on context b (one root). */
static inline bool clf__same_root(const clf_context *a, const clf_context *b)
{
    return a && b && a->root == b->root;
}

/* clf_tensor_slice without entering t's context: a session slices the
 * model's weights while another thread may be inside the model's context;
 * errors are reported on err_ctx. */
clf_status clf__tensor_slice(clf_context *err_ctx, const clf_tensor *t, int dim, int64_t start,
                             int64_t len, clf_tensor *out);

/* A non-blocking read of t (contiguous, bytes its size) into host on ctx's
 * queue, *ev its event (the caller waits with clf__event_wait): the read
 * runs after every command enqueued before it, and whatever is enqueued
 * after it may run while the host waits. host stays the device's until then. */
clf_status clf__tensor_read_start(clf_context *ctx, const clf_tensor *t, void *host, size_t bytes,
                                  cl_event *ev);
/* Waits for *ev (NULL: nothing), releases it and sets it NULL; one blocking
 * call. A failed command is the context's error. */
clf_status clf__event_wait(clf_context *ctx, cl_event *ev);

/* clf_buffer_create and clf_tensor_create for a weight (written whole once,
 * read every step: what a model loads and clf_gemm_pack_b packs); on a
 * host_pages context one of 2 MiB or more is on huge pages (tensor.c). */
clf_status clf__buffer_create_weight(clf_context *ctx, size_t bytes, clf_buffer **out);
clf_status clf__tensor_create_weight(clf_context *ctx, clf_dtype dtype, int ndim,
                                     const int64_t *shape, clf_tensor *out);

/* ---- stored tuning results (tune_store.c) ---- */

/* Applies ctx's stored tuning result to ctx->kprof when there is one (and
 * CLFORMER_TUNE is not 0); a bad file is ignored with a warning. Never fails. */
void clf__tune_load(clf_context *ctx);

/* Stores the fields of p that differ from ctx->kprof_default (all of them
 * are written, so a file is complete). CLF_ERR_NOT_FOUND when the disk cache
 * is off; path (may be NULL) gets the file's name. */
clf_status clf__tune_save(clf_context *ctx, const clf_kernel_profile *p, char *path, size_t size);

/* ---- the one-thread rule ---- */

/* Enters ctx for the public call `what` (clf__owner_enter: CLF_ERR_BUSY when
 * another thread is inside). A NULL ctx passes: the call reports it. */
static inline clf_status clf__ctx_enter(clf_context *ctx, const char *what)
{
    return ctx ? clf__owner_enter(&ctx->owner, ctx, ctx->info.name, what) : CLF_OK;
}

/* Leaves what clf__ctx_enter entered (it returned CLF_OK). */
static inline void clf__ctx_leave(clf_context *ctx)
{
    if (ctx) clf__owner_leave(&ctx->owner);
}

/* Q8 whole-tensor conversions behind clf_tensor_write_f32 / read_f32
 * (quant.c): quantise and upload, download and dequantise. */
clf_status clf__q8_write_f32(clf_context *ctx, clf_tensor *t, const float *host);
clf_status clf__q8_read_f32(clf_context *ctx, const clf_tensor *t, float *host);
/* The same for Q4. */
clf_status clf__q4_write_f32(clf_context *ctx, clf_tensor *t, const float *host);
clf_status clf__q4_read_f32(clf_context *ctx, const clf_tensor *t, float *host);
/* Elements of dtype a view on b may reach: for Q8 its codes, for Q4 its
 * rows x cols logical elements, else b->size / the element size. */
uint64_t clf__buffer_elems(const clf_buffer *b, clf_dtype dtype);

/* Enters contexts a and b (either may be NULL, or both the same one) for
 * the public call `what`: both or neither. On CLF_ERR_BUSY both are marked
 * refused for this thread, so either one's last error on this thread says
 * why. For a model, which runs on its encoder's and decoder's contexts. */
clf_status clf__contexts_enter(clf_context *a, clf_context *b, const char *what);
void clf__contexts_leave(clf_context *a, clf_context *b);

/* CLF__GUARDED over the two contexts of clf__contexts_enter. */
#define CLF__GUARDED2(a, b, what, call)                                                            \
    do {                                                                                           \
        clf_context *clf__g_a = (a), *clf__g_b = (b);                                              \
        CLF_TRY(clf__contexts_enter(clf__g_a, clf__g_b, what));                                    \
        clf_status clf__g_st = (call);                                                             \
        clf__contexts_leave(clf__g_a, clf__g_b);                                                   \
        return clf__g_st;                                                                          \
    } while (0)

/* The body of a public function: returns `call` (a clf_status expression)
 * evaluated inside ctx's guard, or CLF_ERR_BUSY without evaluating it. */
#define CLF__GUARDED(ctx, what, call)                                                              \
    do {                                                                                           \
        clf_context *clf__g_ctx = (ctx);                                                           \
        CLF_TRY(clf__ctx_enter(clf__g_ctx, what));                                                 \
        clf_status clf__g_st = (call);                                                             \
        clf__ctx_leave(clf__g_ctx);                                                                \
        return clf__g_st;                                                                          \
    } while (0)

/* The program `name` built with `options` (may be NULL or ""), made ready
 * once per context and option set: from the context's table, else the disk
 * cache, else compiled from source (and then stored in the cache). A build
 * failure is CLF_ERR_BUILD with the compiler's log in the last error. */
clf_status clf__program_get(clf_context *ctx, const char *name, const char *options,
                            cl_program *out);

/* The kernel `kernel` of that program, created once and kept by the context.
 * The kernel object is shared: set all its arguments before each enqueue. */
clf_status clf__kernel_get(clf_context *ctx, const char *program, const char *options,
                           const char *kernel, cl_kernel *out);

/* The largest work-group kernel k may be launched with: its own
 * CL_KERNEL_WORK_GROUP_SIZE, the profile's device limit, and a simulated
 * per-kernel cap, whichever is least. */
size_t clf__kernel_wg_limit(clf_context *ctx, cl_kernel k);

/* want (a power of two) halved until kernel k can run it. */
size_t clf__wg_fit(clf_context *ctx, cl_kernel k, size_t want);

/* Builds a program from the given source text (used by the above and by
 * tests). Goes through the disk cache like any program; `label` names it in
 * messages. Does not enter the context's table: the caller owns *out. */
clf_status clf__program_build_source(clf_context *ctx, const char *label, const char *src,
                                     size_t size, const char *options, cl_program *out);

/* Releases every program and kernel of the context (at free). */
void clf__programs_release(clf_context *ctx);

/* ---- binary cache ---- */

#define CLF__CACHE_KEY_BYTES 32

/* The key of a program: SHA-256 over the library version, source, full build
 * options, device name, vendor, driver version and platform version. */
clf_status clf__cache_key(const clf_context *ctx, const char *src, size_t size,
                          const char *full_options, unsigned char key[CLF__CACHE_KEY_BYTES]);

/* The same key for a device record with no context: SHA-256 over the library
 * version, src, options and the device's name, vendor, driver version and
 * platform version. Keys other per-device files (the device score). */
clf_status clf__device_key(const clf_device_info *info, const char *src, size_t size,
                           const char *options, unsigned char key[CLF__CACHE_KEY_BYTES]);

/* Lower-case hex of n bytes into out (2n + 1 chars). */
void clf__hex(const unsigned char *bytes, size_t n, char *out);

/* Writes parts[0..n) in order to path through a temp file in the same
 * folder and an atomic rename, so readers never see half a file. The temp
 * file gets a random name and is created with O_EXCL, mode 0600, so nothing
 * planted in the folder (a symlink) is ever written through. 0 on success,
 * -1 otherwise (nothing is left behind). */
int clf__file_replace(const char *path, const void *const *parts, const size_t *sizes, size_t n);

/* The cache folder to use for param (a context's cache_dir: NULL = the
 * environment's default, "" = none) into buf, created (0700) and checked
 * by clf__cache_dir_check, and its kernels/ and scores/ subfolders, when
 * they exist, by clf__cache_dir_trusted. Returns buf, or NULL when there is
 * none or it cannot be used: the cache is then off, an optimisation lost,
 * and the first such folder of the process is named in a warning (clf__log)
 * with why. */
const char *clf__cache_dir_resolve(const char *param, char *buf, size_t size);

/* Path of the entry for key; CLF_ERR_NOT_FOUND when the cache is off. */
clf_status clf__cache_entry_path(const clf_context *ctx,
                                 const unsigned char key[CLF__CACHE_KEY_BYTES], char *buf,
                                 size_t size);

typedef enum clf__cache_result {
    CLF__CACHE_HIT,
    CLF__CACHE_ABSENT,
    CLF__CACHE_REJECTED, /* present but truncated, corrupted or for another key */
} clf__cache_result;

/* Reads and validates the entry for key. On a hit *bin (free with clf__free)
 * holds *size bytes of program binary. Never fails on bad content. */
clf__cache_result clf__cache_load(clf_context *ctx, const unsigned char key[CLF__CACHE_KEY_BYTES],
                                  unsigned char **bin, size_t *size);

/* Writes the entry for key through a temp file and rename. Failure to write
 * is not an error for the caller (the cache is an optimisation): returns 0 on
 * success, -1 otherwise. */
int clf__cache_store(clf_context *ctx, const unsigned char key[CLF__CACHE_KEY_BYTES],
                     const unsigned char *bin, size_t size);

/* ---- device scores (score.c) and the device a context opens (choose.c) ---- */

/* Sets info->score from the process memory or cache_dir's scores/ folder
 * (NULL = no disk cache); 0 and false when neither has it (or the device is
 * unavailable). Never measures. */
bool clf__device_score_cached(clf_device_info *info, const char *cache_dir);

/* Measures the devices together (blocks of passes in turn), sets each one's
 * score and remembers it (process memory and cache_dir). A device that
 * fails keeps 0; the first failure is returned, its message as the thread's
 * last error. */
clf_status clf__devices_measure(clf_device_info *const *infos, size_t count,
                                const char *cache_dir);

/* Fills the scores of devices[] (of class only_class, or all when it is
 * -1; skipping those already > 0 when keep_given) from the cache, then,
 * with measure_missing, measures the available ones still missing. */
clf_status clf__devices_fill_scores(clf_device_info *devices, size_t n, int only_class,
                                    bool keep_given, const char *cache_dir, bool measure_missing);

/* clf_device_choose with the cache folder given (NULL = none): what
 * clf_context_create calls with its own folder. */
clf_status clf__device_choose(clf_device_info *devices, size_t n, const char *spec,
                              const char *cache_dir, bool measure_missing, size_t *index,
                              char *why, size_t why_size);

/* The path of the device's score file under cache_dir into buf; 0 on
 * success, -1 when cache_dir is NULL or the path does not fit. */
int clf__device_score_path(const clf_device_info *info, const char *cache_dir, char *buf,
                           size_t size);

/* Test hooks: workloads measured by this process so far, and forgetting
 * the scores it remembers (so the next lookup goes to the disk). */
long clf__score_measurements(void);
void clf__score_forget(void);

/* ---- launches and device-side errors ---- */

/* Enqueues kernel k (already given its arguments) over `dims` dimensions.
 * local may be NULL (driver's choice). Records a profiling event under
 * `name` when the context profiles. Fault-injectable. */
clf_status clf__launch(clf_context *ctx, cl_kernel k, const char *name, cl_uint dims,
                       const size_t *global, const size_t *local);

/* Device-side error codes that kernels raise through the context's error
 * word (see kernels/common.cl, clf_raise). */
enum {
    CLF__DEVERR_NONE = 0,
    CLF__DEVERR_TOKEN_RANGE = 1, /* value = id, index = flat position, limit = vocabulary */
    CLF__DEVERR_POS_RANGE = 2,   /* value = position, index = row, limit = learned table rows */
    CLF__DEVERR_KV_RANGE = 3,    /* value = position, index = row, limit = capacity - n */
    CLF__DEVERR_KV_ROW = 4,      /* value = cache row, index = row of src, limit = cache rows */
};

/* The context's device error word (int[4], zeroed), created on first use. */
clf_status clf__device_error_buffer(clf_context *ctx, cl_mem *out);

/* Blocking: reads the error word if it exists; a raised error is cleared and
 * returned as CLF_ERR_OUT_OF_RANGE with its message. */
clf_status clf__device_error_check(clf_context *ctx);

/* A work counter for kernels whose work-groups take their work from a shared
 * counter (uint, zeroed at creation) and the epoch for the next launch (1..4095,
 * one more than the last enqueued one's, wrapping): the kernel tags the
 * counter with the epoch, so a value left by an earlier launch, finished or
 * not, never counts (kernels/gemv.cl clf_gtake). The caller reports the
 * launch once it is enqueued (clf__work_counter_used; a dry run or a failed
 * enqueue leaves the epoch as it was), so the counter's epoch is always the
 * last enqueued launch's or an older one, never the next. On the context's
 * in-order queue one counter serves every launch. */
clf_status clf__work_counter(clf_context *ctx, cl_mem *out, cl_uint *epoch);
void clf__work_counter_used(clf_context *ctx, cl_uint epoch);

/* Scratch slots: a device buffer per slot (0 .. CLF__SCRATCH_SLOTS-1, named
 * by the layer that uses them) that grows on demand and is reused by every
 * later call (safe on the context's in-order queue). */
clf_status clf__scratch(clf_context *ctx, int slot, size_t bytes, cl_mem *out);

#endif
