/*
 * clformer contexts: one OpenCL device, its queue, its compiled programs and
 * the on-disk binary cache.
 *
 * Threads: a context is used by one thread at a time, and so is everything
 * that belongs to it: its buffers and tensors, the graphs created on it and
 * the models loaded on it (a model placed on two contexts belongs to both).
 * A program may hand a context from one thread to another, synchronising
 * the hand-over itself (a mutex, a join). Different contexts may be used
 * from different threads at once, and any number of threads may create
 * their first contexts at the same moment: the library serialises device
 * enumeration (OpenCL drivers such as PoCL crash when two threads
 * initialise them at once), device score measurement and CLBlast's calls.
 * A model's sessions (session.h) are how several threads share one model's
 * weights on one device: each runs on an internal fork of the model's
 * context (own queue, kernels, scratch and guard), never on the context
 * itself, so they are not refused while a thread is inside it.
 *
 * The rule is checked. Every call that returns a clf_status and uses a
 * context (ops, tensor creation, views and transfers, graph compile, run,
 * read and profile, model load, encode, decode and generate, and the calls
 * below that take a clf_context *) enters the context on its way in and
 * leaves it on its way out; a call made by the thread already inside (a
 * callback, a nested call) passes. A call from a second thread while one
 * is inside returns CLF_ERR_BUSY at once, touching nothing, with a message
 * that names this rule. The message is the calling thread's own: the
 * context's error text belongs to the thread inside, so the refused thread
 * reads it from clf_context_last_error(ctx) (for every context the refused
 * call would have used) and clf_context_last_error(NULL), on that thread,
 * until it next enters the context. The check costs about 4 ns per call
 * (an atomic compare-and-swap; a small op call costs 3 to 6 us to enqueue
 * on a CPU driver), so it is on in every build; CLFORMER_THREAD_CHECK=0 in
 * the environment when a context is created turns it off for that context.
 * Not checked: the void and plain-value calls (clf_*_free, clf_context_memory,
 * clf_context_build_stats, clf_context_blocking_calls, clf_graph_memory,
 * clf_model_memory, ...), which cannot report an error, and the graph
 * builder calls, which touch only the graph, not the context; they follow
 * the rule all the same. clf_context_device, clf_context_kernel_profile and
 * clf_context_cache_dir read what never changes after creation: any thread,
 * any time.
 *
 * The environment: the first call of the process to clf_context_create,
 * clf_devices_list, clf_devices_score, clf_device_choose or
 * clf_kernel_profile_resolve may set POCL_CACHE_DIR (to <cache>/pocl, when
 * it is unset and that folder is usable) and POCL_KERNEL_CACHE (to 0, when
 * the cache folder's disk is nearly full) with setenv, once, before any
 * OpenCL call; the library's own reads of the environment wait for it. A
 * program whose other threads call setenv, getenv or putenv meanwhile must
 * not let them overlap that first call: create a context (or list the
 * devices) before starting them, or set POCL_CACHE_DIR itself, in which case
 * nothing is written to the environment.
 *
 * The cache folder (clf_context_params.cache_dir) is an optimisation: one
 * that cannot be used (not a folder, cannot be created or written, owned by
 * another user, writable by group or others, under 64 MiB free) turns the
 * disk cache off, with one warning on stderr per process, and the context
 * works as before, compiling its kernels. Folders the library creates are
 * mode 0700.
 */
#ifndef CLFORMER_CONTEXT_H
#define CLFORMER_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_context clf_context; /* opaque */

/* A zeroed struct is valid: every zero means "default". */
typedef struct clf_context_params {
    const char *device;    /* selection string (see clf_device_select); NULL = $CLFORMER_DEVICE, else best */
    const char *cache_dir; /* binary cache folder; NULL = $CLFORMER_CACHE_DIR, else $XDG_CACHE_HOME/clformer
                              or ~/.cache/clformer; "" = no disk cache */
    bool profiling;        /* record per-kernel times with OpenCL profiling events */
    clf_kernel_family kernels; /* kernel family; AUTO = $CLFORMER_KERNELS (cpu|gpu|auto), else
                                  the device profile's choice */
    const char *limits;    /* simulated smaller device limits (see clf_kernel_profile_make);
                              NULL = $CLFORMER_DEVICE_LIMITS; "" = the device's own */
    bool untuned;          /* ignore the autotuner's stored result (tune.h) and keep the
                              default profile; false = apply it when present, unless
                              $CLFORMER_TUNE=0 */
} clf_context_params;

/* Counters of program builds in a context, since it was created. */
typedef struct clf_build_stats {
    int programs;        /* programs made ready (built from source or loaded from the cache) */
    int built;           /* programs compiled from source */
    int cache_hits;      /* programs loaded from a cache entry */
    int cache_rejected;  /* cache entries found but unusable (truncated, corrupted, foreign): rebuilt */
    int cache_writes;    /* entries written to the cache */
    double seconds;      /* wall time spent making programs ready */
} clf_build_stats;

CLF_API clf_context_params clf_context_params_default(void);

/* Creates a context on the selected device, with one in-order queue. The
 * device is the one clf_device_choose() picks for params.device (so two
 * devices of one class are ranked by their measured score; see there). On
 * success *out owns the new context; free it with clf_context_free(). On
 * failure *out is NULL and clf_context_last_error(NULL) says why (no platform,
 * no matching device with the list of devices that exist, an OpenCL error by
 * name). Sets POCL_CACHE_DIR to <cache>/pocl for PoCL if the user has not set
 * it, before the first OpenCL call of the process (see "The environment"
 * above). Thread-safe (see "Threads" above). */
CLF_API clf_status clf_context_create(const clf_context_params *params, clf_context **out);

/*
 * Device scores: the measured speed of a short representative workload on a
 * device (kernels/score.cl: a 128 x 512 x 512 f32 matmul, a 2048 x 1024
 * GEMV, GELU over 262144 floats and 32 tiny launches, enqueued as a model
 * pass enqueues them; score = 1 / the seconds of the fastest of 16 passes
 * after a warm-up), so that two implementations of one class, such as PoCL
 * and Intel's CPU runtime on the same cores, are ranked by what they do
 * rather than by what the drivers report. Scores compare devices of one
 * class only.
 *
 * A score is cached on disk, one small file per device in <cache>/scores/
 * keyed by the library version, the workload and the device's name, vendor,
 * driver version and platform version (a driver update measures again), and
 * remembered for the rest of the process. Measuring opens a temporary
 * context on the device ("P:D"): a fraction of a second, mostly the
 * workload's compile.
 */

/* Fills devices[i].score of every available device from the process memory
 * or the default cache folder ($CLFORMER_CACHE_DIR, else $XDG_CACHE_HOME/
 * clformer or ~/.cache/clformer; 0 when it has none) and, with
 * measure_missing, measures the devices that have none (together, taking
 * turns) and caches the results. Unavailable devices get 0. devices is
 * typically from clf_devices_list(). Returns CLF_OK when every device asked
 * for got its score; otherwise the first failure (with its message in
 * clf_context_last_error(NULL)), the other devices filled all the same and
 * the failed ones left at 0. Not affected by CLFORMER_DEVICE_SCORE. */
CLF_API clf_status clf_devices_score(clf_device_info *devices, size_t n, bool measure_missing);

/*
 * The device clf_context_create() opens for spec (a selection string, see
 * clf_device_select; NULL = best; it does not read CLFORMER_DEVICE), and
 * why. When spec leaves the choice to the library (NULL, "", "best", "gpu"
 * or a class word) and two or more available devices share the best class
 * that matches, their scores decide: a device whose score is 0 gets it from
 * the cache or, with measure_missing, is measured (as clf_devices_score; a
 * failed measurement leaves 0, and that pair is ranked by compute units x
 * clock). Scores already > 0 in devices[] are kept; the ones filled are
 * written back. "P:D" and a name substring name the device themselves: no
 * score is read or measured for them and ties go to compute units x clock,
 * whatever devices[] holds. CLFORMER_DEVICE_SCORE=0 turns ranking by score
 * off (nothing is measured; ties go to compute units x clock); 1 or unset is
 * on; anything else is CLF_ERR_INVALID_ARG.
 *
 * On success *index is the position in devices[] and, when why is not NULL,
 * why holds a one-line reason ("class cpu; measured 1.25x faster than 0:0 on
 * the score workload"), truncated to why_size. Errors as clf_device_select.
 */
CLF_API clf_status clf_device_choose(clf_device_info *devices, size_t n, const char *spec,
                                     bool measure_missing, size_t *index, char *why,
                                     size_t why_size);

/* Frees a context and everything it owns. NULL is a no-op. */
CLF_API void clf_context_free(clf_context *ctx);

/* The detail of the last failed call on ctx; "" if none. With ctx == NULL, the
 * last failure of a call that had no context (clf_context_create,
 * clf_devices_list, clf_device_select) on the calling thread. The text is
 * valid until the next call on the same context (or thread). Never NULL. */
CLF_API const char *clf_context_last_error(const clf_context *ctx);

/* The device the context runs on. Valid for the context's lifetime. */
CLF_API const clf_device_info *clf_context_device(const clf_context *ctx);

/* The kernel profile the context's ops follow (family, tiles, work-group
 * sizes, limits, workarounds). Valid for the context's lifetime. */
CLF_API const clf_kernel_profile *clf_context_kernel_profile(const clf_context *ctx);

/* The binary cache folder in use, or NULL when the disk cache is off. */
CLF_API const char *clf_context_cache_dir(const clf_context *ctx);

/* Makes every kernel program embedded in the library ready (from the binary
 * cache where possible), with the context's default build options. Used to
 * warm the cache and to measure cold and warm start. Adds to the stats. */
CLF_API clf_status clf_context_build_all(clf_context *ctx);

/* Copies the context's build counters into *out. */
CLF_API void clf_context_build_stats(const clf_context *ctx, clf_build_stats *out);

/* Runs one small kernel (y = a*x + y over a prime number of elements) on the
 * device and checks it on the host: proves that build, transfer and launch
 * work. *max_abs_error (may be NULL) gets the largest error seen. Blocking. */
CLF_API clf_status clf_context_selftest(clf_context *ctx, double *max_abs_error);

/* Blocks until every command enqueued on the context's queue has finished.
 * Also reports a device-side error raised by an earlier op (an out-of-range
 * token id: CLF_ERR_OUT_OF_RANGE), once. */
CLF_API clf_status clf_context_finish(clf_context *ctx);

/* One kernel launch's device time, from OpenCL profiling events. */
typedef struct clf_profile_record {
    const char *kernel; /* static name of the kernel */
    double seconds;     /* end - start on the device */
} clf_profile_record;

/* Waits for the queue, then returns up to cap records of the kernels launched
 * since the last call (in launch order) and forgets them all. The context
 * must have been created with params.profiling. */
CLF_API clf_status clf_context_profile(clf_context *ctx, clf_profile_record *out, size_t cap,
                                       size_t *n);

/* Host synchronisations the context has made so far (blocking reads,
 * finishes): a test counts them around a run to prove it has none inside. */
CLF_API long clf_context_blocking_calls(const clf_context *ctx);

/* Device allocations made through the context and not yet freed, their
 * bytes, and the most bytes that were ever live at once (buffers, tensors and
 * op temporaries; not scratch slots, nor the drivers' or CLBlast's own).
 * Any pointer may be NULL. */
CLF_API void clf_context_memory(const clf_context *ctx, long *buffers, size_t *bytes,
                                size_t *peak_bytes);

/* Bytes of device scratch the context's ops keep for reuse (GEMM temporaries,
 * split-key attention partials, ...). */
CLF_API void clf_context_scratch_bytes(const clf_context *ctx, size_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
