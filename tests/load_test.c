/*
 * load_test: T threads, each with its own context, MiniLM and tiny GPT-2,
 * run a seeded random mix of the jobs of load_jobs.c for N seconds; every
 * result must equal, byte for byte, the single-threaded reference computed
 * first, and the process's resident memory and the device bytes must stay
 * flat once warm (issue 13). Plain C, not Criterion: it runs for minutes and
 * is meant to run under ThreadSanitizer too (tools/load-test.sh drives it).
 *
 *   load_test [--seconds N] [--threads T] [--device SPEC] [--seed S]
 *             [--minilm DIR] [--gpt2 DIR] [--interval S] [--rss-slack-mib M]
 *             [--plant mismatch|rss|device|race]
 *
 * Defaults: 300 s, 4 threads, the library's device choice ($CLFORMER_DEVICE,
 * else the best), a seed from the clock (printed; --seed replays the
 * schedule), MiniLM from $CLFORMER_MINILM_DIR else build-logs/models/
 * all-MiniLM-L6-v2 of the source tree (tools/fetch-minilm.sh puts it there),
 * GPT-2 from tests/golden/hf/gpt2, a sample every 5 s (or every tenth of the
 * run when that is shorter, at least 1 s).
 *
 * Flat: the warm-up is the first 20 % of the run, and lasts at least until
 * every thread has run every job once (each graph and batch size built).
 * The first sample after it is the baseline; at every later sample (and one
 * after the threads stop) the device bytes, buffer count and scratch bytes
 * summed over the threads' contexts must equal the baseline's exactly, and
 * the resident set may exceed the baseline's by at most M MiB (default 2)
 * plus 1 %. At least one sample after the baseline is required.
 *
 * --plant makes the run fail on purpose, to show each check can fail:
 * mismatch flips one bit of one reference result; rss leaks 256 KiB of host
 * memory, 1 MiB every 100 ms per thread (at most 256 MiB) from the end of its
 * first pass (by time, not per job, so that a slow run under a sanitizer
 * leaks as much as a fast one); device keeps a 64 KiB device buffer per
 * job after the warm-up; race makes every thread count its jobs in one plain
 * (non-atomic) global as well, a data race that only ThreadSanitizer sees
 * (tools/load-test.sh --tsan --self-test checks that it does).
 *
 * Exit 0 when every job matched, none failed and memory stayed flat; 1 on a
 * mismatch, an error or growth; 2 on bad usage or when setup failed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/testutil.h"
#include "load_jobs.h"

enum { MAX_THREADS = 64, MAX_JOBS = 32, MAX_SAMPLES = 4096, PRINT_MISMATCHES = 5 };
typedef enum plant { PLANT_NONE, PLANT_MISMATCH, PLANT_RSS, PLANT_DEVICE, PLANT_RACE } plant;

typedef struct options {
    double seconds;
    int threads;
    const char *device;
    uint64_t seed;
    char minilm[1024], gpt2[1024];
    double interval;
    double rss_slack_mib;
    plant plant;
} options;

typedef struct reference {
    unsigned char *bytes[MAX_JOBS];
    size_t size[MAX_JOBS];
} reference;

typedef struct worker {
    int index;
    pthread_t thread;
    load_models m;
    const options *o;
    const reference *ref;
    pthread_barrier_t *start;
    long runs[MAX_JOBS]; /* jobs run, by job */
    long mismatches, errors;
    /* Read by the main thread while the worker runs. */
    atomic_long done;        /* jobs finished */
    atomic_bool warm;        /* every job has run once */
    atomic_size_t dev_bytes; /* the context's live device bytes after the last job */
    atomic_long dev_buffers; /* and its live allocations */
    atomic_size_t scratch;   /* and its scratch bytes */
    /* --plant rss / device: what was leaked on purpose (freed at the end). */
    void **leaks;
    clf_buffer **kept;
    long n_leaks, n_kept;
    double warm_since; /* when the first pass ended */
} worker;

static atomic_bool stop;
static atomic_int printed; /* mismatches and errors printed so far */
static long racy_jobs;     /* --plant race: written by every thread, unsynchronised */

typedef struct sample {
    double t;
    size_t rss, dev_bytes, scratch;
    long buffers, jobs;
    bool warm;
} sample;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The process's resident set, bytes (/proc/self/statm's second field). */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void load_average(char *buf, size_t size)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
        snprintf(buf, size, "?");
    else
        snprintf(buf, size, "%.2f %.2f %.2f", a, b, c);
    if (f) fclose(f);
}

static void publish_memory(worker *w)
{
    long buffers = 0;
    size_t bytes = 0, scratch = 0;
    clf_context_memory(w->m.ctx, &buffers, &bytes, NULL);
    clf_context_scratch_bytes(w->m.ctx, &scratch);
    atomic_store(&w->dev_bytes, bytes);
    atomic_store(&w->dev_buffers, buffers);
    atomic_store(&w->scratch, scratch);
}

/* --plant rss / device, after the first pass (see the header comment). */
static void plant_leak(worker *w)
{
    if (w->o->plant == PLANT_RSS) {
        long due = (long)((now() - w->warm_since) / 0.1) + 1;
        if (due > 256) due = 256;
        for (; w->n_leaks < due; w->n_leaks++) {
            void **grown = realloc(w->leaks, (size_t)(w->n_leaks + 1) * sizeof *grown);
            if (!grown) return;
            w->leaks = grown;
            if (!(w->leaks[w->n_leaks] = malloc(1 << 20))) return;
            memset(w->leaks[w->n_leaks], 0x5a, 1 << 20);
        }
    } else if (w->o->plant == PLANT_DEVICE) {
        clf_buffer **grown = realloc(w->kept, (size_t)(w->n_kept + 1) * sizeof *grown);
        clf_buffer *b = NULL;
        if (!grown) return;
        w->kept = grown;
        if (clf_buffer_create(w->m.ctx, 64 << 10, &b) == CLF_OK) w->kept[w->n_kept++] = b;
    }
}

/* Compares one result with the reference; prints the first few mismatches. */
static bool matches(worker *w, int j, long iteration, const unsigned char *out, size_t size)
{
    const reference *r = w->ref;
    if (size == r->size[j] && memcmp(out, r->bytes[j], size) == 0) return true;
    if (atomic_fetch_add(&printed, 1) < PRINT_MISMATCHES) {
        size_t at = 0;
        while (at < size && at < r->size[j] && out[at] == r->bytes[j][at])
            at++;
        fprintf(stderr,
                "load_test: MISMATCH thread %d, job %s (run %ld of this thread): %zu bytes vs "
                "%zu in the reference, first difference at byte %zu\n",
                w->index, load_jobs[j].name, iteration, size, r->size[j], at);
    }
    return false;
}

static void *work(void *arg)
{
    worker *w = arg;
    char who[32], err[1024];
    snprintf(who, sizeof who, "thread %d", w->index);
    unsigned char *out = malloc(load_result_capacity());
    clf_status st = out ? load_models_open(&w->m, w->o->device, w->o->minilm, w->o->gpt2, who)
                        : CLF_ERR_OUT_OF_MEMORY;
    if (st != CLF_OK) w->errors++;
    if (w->m.ctx) publish_memory(w);
    pthread_barrier_wait(w->start); /* the clock starts when every thread has loaded */
    if (st != CLF_OK) {
        free(out);
        return NULL;
    }
    /* The first pass runs every job once, in a shuffled order; then jobs
     * are drawn at random. Each thread has its own stream of the seed. */
    clft_rng rng = clft_rng_make(w->o->seed, (uint64_t)w->index + 1);
    int order[MAX_JOBS];
    for (int i = 0; i < load_n_jobs; i++)
        order[i] = i;
    for (int i = load_n_jobs - 1; i > 0; i--) {
        int k = (int)(clft_next(&rng) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    for (long it = 0; !atomic_load(&stop); it++) {
        int j = it < load_n_jobs ? order[it] : (int)(clft_next(&rng) % (uint64_t)load_n_jobs);
        size_t size = 0;
        st = load_job_run(&w->m, &load_jobs[j], out, &size, err, sizeof err);
        if (st != CLF_OK) {
            w->errors++;
            if (atomic_fetch_add(&printed, 1) < PRINT_MISMATCHES)
                fprintf(stderr, "load_test: ERROR thread %d, job %s: %s\n", w->index,
                        load_jobs[j].name, err);
            break;
        }
        w->runs[j]++;
        if (!matches(w, j, w->runs[j], out, size)) w->mismatches++;
        if (atomic_load(&w->warm)) plant_leak(w);
        if (w->o->plant == PLANT_RACE) racy_jobs++;
        publish_memory(w);
        atomic_fetch_add(&w->done, 1);
        if (it + 1 == load_n_jobs) {
            w->warm_since = now();
            atomic_store(&w->warm, true);
        }
    }
    free(out);
    return NULL;
}

static sample take_sample(worker *ws, int n, double t0)
{
    sample s = {.t = now() - t0, .rss = rss_bytes(), .warm = true};
    for (int i = 0; i < n; i++) {
        s.dev_bytes += atomic_load(&ws[i].dev_bytes);
        s.buffers += atomic_load(&ws[i].dev_buffers);
        s.scratch += atomic_load(&ws[i].scratch);
        s.jobs += atomic_load(&ws[i].done);
        s.warm = s.warm && atomic_load(&ws[i].warm);
    }
    return s;
}

static void print_sample(const sample *s, const char *note)
{
    printf("  %7.1f  %9.2f  %12zu  %7ld  %10zu  %7ld  %s\n", s->t, (double)s->rss / (1 << 20),
           s->dev_bytes, s->buffers, s->scratch, s->jobs, note);
    fflush(stdout);
}

/* The flatness check of the header comment; returns the number of failures. */
static int check_flat(const sample *s, int n, const options *o)
{
    double warm_t = 0.2 * o->seconds;
    int base = -1;
    for (int i = 0; i < n && base < 0; i++)
        if (s[i].warm && s[i].t >= warm_t) base = i;
    if (base < 0 || base == n - 1) {
        printf("FAIL flat: no sample after the warm-up's baseline (run longer than %.0f s, or "
               "the threads never finished their first pass)\n",
               o->seconds);
        return 1;
    }
    const sample *b = &s[base];
    double bound = o->rss_slack_mib * (1 << 20) + 0.01 * (double)b->rss;
    size_t rss_max = b->rss;
    int bad = 0;
    for (int i = base + 1; i < n; i++) {
        if (s[i].rss > rss_max) rss_max = s[i].rss;
        if (s[i].dev_bytes != b->dev_bytes || s[i].buffers != b->buffers ||
            s[i].scratch != b->scratch) {
            if (!bad++)
                printf("FAIL flat: device memory at %.1f s: %zu bytes in %ld buffers, scratch %zu; "
                       "baseline at %.1f s: %zu bytes in %ld buffers, scratch %zu\n",
                       s[i].t, s[i].dev_bytes, s[i].buffers, s[i].scratch, b->t, b->dev_bytes,
                       b->buffers, b->scratch);
        }
    }
    printf("baseline at %.1f s (warm-up %.1f s): RSS %.2f MiB, device %zu bytes in %ld buffers, "
           "scratch %zu; last: RSS %.2f MiB, device %zu bytes in %ld buffers, scratch %zu\n",
           b->t, warm_t, (double)b->rss / (1 << 20), b->dev_bytes, b->buffers, b->scratch,
           (double)s[n - 1].rss / (1 << 20), s[n - 1].dev_bytes, s[n - 1].buffers,
           s[n - 1].scratch);
    printf("RSS growth after the baseline: max %+.2f MiB (bound %.2f MiB = %.1f MiB + 1 %%)\n",
           ((double)rss_max - (double)b->rss) / (1 << 20), bound / (1 << 20), o->rss_slack_mib);
    if ((double)rss_max - (double)b->rss > bound) {
        printf("FAIL flat: RSS grew by %.2f MiB after the warm-up (bound %.2f MiB)\n",
               ((double)rss_max - (double)b->rss) / (1 << 20), bound / (1 << 20));
        bad++;
    }
    return bad;
}

static void usage(void)
{
    fprintf(stderr, "usage: load_test [--seconds N] [--threads T] [--device SPEC] [--seed S] "
                    "[--minilm DIR] [--gpt2 DIR] [--interval S] [--rss-slack-mib M] "
                    "[--plant mismatch|rss|device|race]\n");
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.seconds = 300,
                   .threads = 4,
                   .seed = (uint64_t)time(NULL),
                   .interval = 0,
                   .rss_slack_mib = 2};
    const char *env = getenv("CLFORMER_MINILM_DIR");
    if (env && *env)
        snprintf(o->minilm, sizeof o->minilm, "%s", env);
    else
        snprintf(o->minilm, sizeof o->minilm, "%s/../../build-logs/models/all-MiniLM-L6-v2",
                 clft_golden_dir());
    snprintf(o->gpt2, sizeof o->gpt2, "%s/hf/gpt2", clft_golden_dir());
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help")) return usage(), 1;
        if (!v) return usage(), 2;
        i++;
        if (!strcmp(a, "--seconds"))
            o->seconds = strtod(v, &end);
        else if (!strcmp(a, "--threads"))
            o->threads = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--device"))
            o->device = v;
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, &end, 10);
        else if (!strcmp(a, "--minilm"))
            snprintf(o->minilm, sizeof o->minilm, "%s", v);
        else if (!strcmp(a, "--gpt2"))
            snprintf(o->gpt2, sizeof o->gpt2, "%s", v);
        else if (!strcmp(a, "--interval"))
            o->interval = strtod(v, &end);
        else if (!strcmp(a, "--rss-slack-mib"))
            o->rss_slack_mib = strtod(v, &end);
        else if (!strcmp(a, "--plant")) {
            o->plant = !strcmp(v, "mismatch") ? PLANT_MISMATCH
                       : !strcmp(v, "rss")    ? PLANT_RSS
                       : !strcmp(v, "device") ? PLANT_DEVICE
                       : !strcmp(v, "race")   ? PLANT_RACE
                                              : (plant)-1;
            if (o->plant == (plant)-1) return usage(), 2;
        } else
            return usage(), 2;
        if (end && *end) return fprintf(stderr, "load_test: bad value for %s: %s\n", a, v), 2;
    }
    if (!(o->seconds > 0) || o->threads < 1 || o->threads > MAX_THREADS || o->interval < 0 ||
        !(o->rss_slack_mib >= 0))
        return usage(), 2;
    if (o->interval == 0) o->interval = o->seconds / 10 < 5 ? o->seconds / 10 : 5;
    if (o->interval < 1) o->interval = 1;
    return 0;
}

/* The single-threaded reference: every job on one context, twice (the two
 * runs must agree: a job that is not repeatable on one thread would make the
 * threaded comparison meaningless). */
static int make_reference(const options *o, const clf_tokenizer *tok, reference *r)
{
    load_models m = {.tok = tok};
    char err[1024];
    if (load_models_open(&m, o->device, o->minilm, o->gpt2, "reference") != CLF_OK)
        return load_models_free(&m), 2;
    printf("device: %s\n", clf_context_device(m.ctx)->name);
    unsigned char *again = malloc(load_result_capacity());
    int bad = again ? 0 : 2;
    for (int j = 0; j < load_n_jobs && !bad; j++) {
        size_t n2 = 0;
        r->bytes[j] = malloc(load_result_capacity());
        if (!r->bytes[j] ||
            load_job_run(&m, &load_jobs[j], r->bytes[j], &r->size[j], err, sizeof err) ||
            load_job_run(&m, &load_jobs[j], again, &n2, err, sizeof err)) {
            fprintf(stderr, "load_test: reference job %s: %s\n", load_jobs[j].name, err);
            bad = 2;
        } else if (n2 != r->size[j] || memcmp(again, r->bytes[j], n2)) {
            fprintf(stderr, "load_test: reference job %s differs between two runs on one thread\n",
                    load_jobs[j].name);
            bad = 1;
        }
    }
    free(again);
    load_models_free(&m);
    return bad;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    char load0[64], load1[64];
    load_average(load0, sizeof load0);
    printf("load_test: %d threads x %.0f s, seed %llu (--seed replays the schedule), sample "
           "every %.1f s, load average %s\nMiniLM: %s\nGPT-2: %s\n",
           o.threads, o.seconds, (unsigned long long)o.seed, o.interval, load0, o.minilm, o.gpt2);
    clf_tokenizer_params tp = clf_tokenizer_params_default();
    tp.max_length = 128; /* the MiniLM's max_source_len in load_jobs.c */
    clf_tokenizer *tok = NULL;
    if (clf_tokenizer_load(o.minilm, &tp, &tok) != CLF_OK) {
        fprintf(stderr, "load_test: tokenizer: %s\n", clf_context_last_error(NULL));
        return 2;
    }
    reference ref = {0};
    double t_ref = now();
    rc = make_reference(&o, tok, &ref);
    printf("reference: %d jobs, each run twice on one thread, in %.1f s\n", load_n_jobs,
           now() - t_ref);
    if (rc == 0 && o.plant == PLANT_MISMATCH) {
        ref.bytes[4][ref.size[4] / 2] ^= 1; /* one bit of job 4's result */
        printf("PLANTED: one bit of job %s's reference flipped\n", load_jobs[4].name);
    }
    worker *ws = calloc((size_t)o.threads, sizeof *ws);
    sample *samples = calloc(MAX_SAMPLES, sizeof *samples);
    pthread_barrier_t start;
    if (rc || !ws || !samples || pthread_barrier_init(&start, NULL, (unsigned)o.threads + 1)) {
        clf_tokenizer_free(tok);
        return rc ? rc : 2;
    }
    int started = 0;
    for (; started < o.threads; started++) {
        worker *w = &ws[started];
        w->index = started; /* the rest is zero from calloc */
        w->o = &o;
        w->ref = &ref;
        w->start = &start;
        w->m.tok = tok;
        if (pthread_create(&w->thread, NULL, work, w)) break;
    }
    if (started < o.threads) { /* the barrier would never open: a setup failure */
        fprintf(stderr, "load_test: pthread_create failed after %d threads\n", started);
        return 2;
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    int n = 0;
    printf("samples:\n  %7s  %9s  %12s  %7s  %10s  %7s\n", "t (s)", "RSS (MiB)", "device bytes",
           "buffers", "scratch", "jobs");
    samples[n] = take_sample(ws, o.threads, t0);
    print_sample(&samples[n++], "(threads loaded)");
    while (now() - t0 < o.seconds) {
        double next = t0 + n * o.interval, end = t0 + o.seconds;
        double wait = (next < end ? next : end) - now();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (now() - t0 >= o.seconds) break;
        samples[n] = take_sample(ws, o.threads, t0);
        print_sample(&samples[n], samples[n].warm ? "" : "(warming up)");
        if (n < MAX_SAMPLES - 2) n++;
    }
    atomic_store(&stop, true);
    for (int i = 0; i < o.threads; i++)
        pthread_join(ws[i].thread, NULL);
    samples[n] = take_sample(ws, o.threads, t0);
    print_sample(&samples[n++], "(threads stopped)");

    long kinds[LOAD_KINDS] = {0}, mismatches = 0, errors = 0;
    printf("jobs per thread:");
    for (int i = 0; i < o.threads; i++) {
        worker *w = &ws[i];
        printf(" %ld", atomic_load(&w->done));
        mismatches += w->mismatches;
        errors += w->errors;
        for (int j = 0; j < load_n_jobs; j++)
            kinds[load_jobs[j].kind] += w->runs[j];
        if (!atomic_load(&w->warm) && !w->errors) {
            printf("\nFAIL: thread %d did not finish its first pass over the %d jobs", i,
                   load_n_jobs);
            errors++;
        }
    }
    printf("\njobs per kind:");
    for (int k = 0; k < LOAD_KINDS; k++)
        printf(" %s %ld", load_kind_name((load_kind)k), kinds[k]);
    printf("\n");
    if (o.plant == PLANT_RACE)
        printf("PLANTED: the racy job count says %ld (ThreadSanitizer must have reported it)\n",
               racy_jobs);
    int flat_failures = check_flat(samples, n, &o);
    for (int i = 0; i < o.threads; i++) {
        for (long k = 0; k < ws[i].n_leaks; k++)
            free(ws[i].leaks[k]);
        for (long k = 0; k < ws[i].n_kept; k++)
            clf_buffer_free(ws[i].kept[k]);
        free(ws[i].leaks);
        free(ws[i].kept);
        load_models_free(&ws[i].m);
    }
    load_average(load1, sizeof load1);
    bool ok = mismatches == 0 && errors == 0 && flat_failures == 0;
    printf("load_test: %s: %ld jobs in %.1f s on %d threads, %ld mismatches, %ld errors, memory "
           "%s (seed %llu, load average %s)\n",
           ok ? "PASS" : "FAIL", samples[n - 1].jobs, samples[n - 1].t, o.threads, mismatches,
           errors, flat_failures ? "GREW" : "flat", (unsigned long long)o.seed, load1);
    for (int j = 0; j < load_n_jobs; j++)
        free(ref.bytes[j]);
    free(ws);
    free(samples);
    pthread_barrier_destroy(&start);
    clf_tokenizer_free(tok);
    return ok ? 0 : 1;
}
