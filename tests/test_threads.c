/* Device tests: threads that create the first contexts of a process at
 * once (issue #13, defect 1). The race was in the drivers' first
 * initialisation, which a process goes through once, so every repetition is
 * a fresh process: a child forked before this test process made any OpenCL
 * call. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/fresh.h"
#include "common/testutil.h"

enum { THREADS = 16 };

typedef struct storm {
    char (*specs)[32];    /* the devices the threads open in turn; NULL: the best one */
    int n_specs;
    const char *cache_dir; /* the child's CLFORMER_CACHE_DIR */
    const char *vendors;   /* the child's OCL_ICD_VENDORS (one driver alone); NULL: inherited */
    pthread_barrier_t start;
    atomic_int failed;     /* calls that failed */
    atomic_int no_device;  /* calls that found no device (a driver alone may have none) */
} storm;

typedef struct rider {
    storm *s;
    int index;
} rider;

/* One thread: waits for all, then its first call. Every fourth thread lists
 * the devices instead of opening one: the other entry point into the first
 * enumeration. */
static void *ride(void *arg)
{
    const rider *r = arg;
    storm *s = r->s;
    const char *spec = s->specs ? s->specs[r->index % s->n_specs] : NULL;
    pthread_barrier_wait(&s->start);
    clf_status st;
    if (r->index % 4 == 3) {
        clf_device_info *devs = NULL;
        size_t n = 0;
        st = clf_devices_list(&devs, &n);
        clf_devices_free(devs);
    } else {
        clf_context_params p = clf_context_params_default();
        p.device = spec;
        clf_context *ctx = NULL;
        st = clf_context_create(&p, &ctx);
        clf_context_free(ctx);
    }
    if (st == CLF_ERR_NO_DEVICE) {
        s->no_device++;
    } else if (st != CLF_OK) {
        fprintf(stderr, "thread %d (%s): %s: %s\n", r->index, spec ? spec : "best",
                clf_status_name(st), clf_context_last_error(NULL));
        s->failed++;
    }
    return NULL;
}

/* The child: THREADS threads, released together. POCL_CACHE_DIR unset, so
 * that the library's once-only setenv happens inside the race too; the
 * cache folder (for PoCL and ours) is the test's own. Exits 0 when every
 * call succeeded, 3 when none found a device, 1 otherwise. */
static int storm_child(void *arg)
{
    storm *s = arg;
    unsetenv("POCL_CACHE_DIR");
    unsetenv("CLFORMER_DEVICE");
    setenv("CLFORMER_DEVICE_SCORE", "0", 1); /* only the first calls race: nothing measured */
    setenv("CLFORMER_CACHE_DIR", s->cache_dir, 1);
    if (s->vendors) setenv("OCL_ICD_VENDORS", s->vendors, 1);
    pthread_t t[THREADS];
    rider r[THREADS];
    pthread_barrier_init(&s->start, NULL, THREADS);
    atomic_init(&s->failed, 0);
    atomic_init(&s->no_device, 0);
    for (int i = 0; i < THREADS; i++) {
        r[i] = (rider){s, i};
        if (pthread_create(&t[i], NULL, ride, &r[i]) != 0) return 2;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (s->no_device == THREADS) return 3;
    return s->failed || s->no_device ? 1 : 0;
}

/* reps fresh processes of the storm s; fails the test on any crash or
 * failed call. Returns false when the driver(s) had no device. */
static bool storms(storm *s, int reps, const char *what)
{
    int crashes = 0, failures = 0, empty = 0, first_signal = 0;
    for (int rep = 0; rep < reps; rep++) {
        int status = clft_fork_run(storm_child, s);
        if (WIFSIGNALED(status)) {
            if (!crashes) first_signal = WTERMSIG(status);
            crashes++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
            empty++;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failures++;
        }
    }
    cr_log_info("%s: %d fresh processes x %d threads creating their first contexts (or listing "
                "devices) at once: %d crashed, %d had a failed call%s",
                what, reps, THREADS, crashes, failures, empty ? ", no device" : "");
    cr_assert_eq(crashes, 0, "%s: %d of %d processes crashed (the first by signal %d)", what,
                 crashes, reps, first_signal);
    cr_assert_eq(failures, 0, "%s: %d of %d processes had a failed call (see stderr)", what,
                 failures, reps);
    return empty == 0;
}

/* The folder of the ICD loader's driver files, or NULL when OCL_ICD_VENDORS
 * already names a single driver. */
static const char *vendor_folder(void)
{
    const char *env = getenv("OCL_ICD_VENDORS");
    if (!env || !*env) return "/etc/OpenCL/vendors";
    struct stat st;
    return stat(env, &st) == 0 && S_ISDIR(st.st_mode) ? env : NULL;
}

/* Every test device, and then every installed driver alone: the ICD loader
 * initialises every driver at the first enumeration whatever device is
 * asked for, and with both PoCL and Intel's runtime installed, Intel's slow
 * start spaced the threads out so that PoCL's race (19 crashes in 20 runs
 * of plain platform and device queries with PoCL alone) did not show.
 * CLFT_THREAD_REPS sets the number of fresh processes per driver (20 by
 * default; a quarter of that with every driver together). */
Test(threads, first_contexts_created_at_once_never_crash, .timeout = 900)
{
    char specs[16][32];
    int n = clft_devices_fresh_or_skip(specs, 16);
    const char *env = getenv("CLFT_THREAD_REPS");
    int reps = env && atoi(env) > 0 ? atoi(env) : 20;
    char dir[512];
    clft_tempdir(dir, sizeof dir, "threads");
    storm s = {.specs = specs, .n_specs = n, .cache_dir = dir};
    storms(&s, reps / 4 > 0 ? reps / 4 : 1, "every driver, the test devices");

    const char *folder = vendor_folder();
    DIR *d = folder ? opendir(folder) : NULL;
    int drivers = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".icd") != 0) continue;
        /* A folder holding only this driver's file: OCL_ICD_VENDORS as a
         * folder is understood by both ocl-icd and Khronos' loader. */
        char alone[1024], from[1024], to[1200];
        snprintf(alone, sizeof alone, "%s/alone-%d", dir, drivers);
        snprintf(from, sizeof from, "%s/%s", folder, e->d_name);
        snprintf(to, sizeof to, "%s/%s", alone, e->d_name);
        cr_assert_eq(mkdir(alone, 0700), 0);
        cr_assert_eq(symlink(from, to), 0);
        storm one = {.cache_dir = dir, .vendors = alone};
        if (storms(&one, reps, e->d_name)) drivers++;
    }
    if (d) closedir(d);
    cr_log_info("%d driver(s) with a device stormed alone", drivers);
    clft_rmtree(dir);
}
