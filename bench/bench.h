/*
 * The benchmark harness behind `clformer bench`: per device, measured
 * ceilings (bandwidth, compute), then cases timed after warm-up with the
 * median, min, p90 and p99 over repeats, each reported against its roofline
 * floor and, where one exists, a baseline measured in the same run.
 */
#ifndef CLF_BENCH_H
#define CLF_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#include <clformer/clformer.h>

typedef struct bench_ceilings {
    double bandwidth_gbs;   /* measured: large buffer copy, bytes read + written / s */
    double compute_gflops;  /* measured: dependent FMA chains on every compute unit */
    double peak_gflops;     /* theoretical, 0 when it cannot be derived */
    const char *peak_how;   /* how the theoretical figure was derived */
    double roof_gflops;     /* the figure the roofline uses */
    const char *roof_source; /* "measured" or "theoretical" */
} bench_ceilings;

/* The --json FILE document (bench_main.c). */
typedef struct bench_json bench_json;

typedef struct bench_run {
    clf_context *ctx;
    const clf_device_info *dev;
    bench_ceilings ceil;
    bool quick;
    int reps;          /* timed repeats per case */
    int warmup;        /* untimed runs first */
    const char *filter; /* NULL = every entry, else a substring of the entry name */
    bench_json *json;  /* the --json document; NULL = no JSON */
    int failures;      /* cases that could not run */
    bool reps_forced;  /* --reps given: every case uses reps */
    bool no_start;     /* --no-start: skip the cold/warm start children */
    bool progress;     /* stderr is a terminal: draw a progress line */
    int prog_done, prog_total; /* entries finished / to run, over all devices */
    double t_begin;    /* monotonic start of the whole run */
    int tuning;        /* --tuning: 0 tuned (the library's default), 1 default only, 2 both */
    /* --tuning both: each case's medians, to compare; shared by the copies
     * of a bench_run that entries make. */
    struct bench_tuning_table *table;
} bench_run;

/* One case of --tuning both: its median with the default and the tuned profile. */
typedef struct bench_tuning_row {
    char entry[24], name[96], shape[96];
    double med_s[2]; /* default, tuned; 0 = not measured */
} bench_tuning_row;

typedef struct bench_tuning_table {
    bench_tuning_row *rows;
    int n, cap;
} bench_tuning_table;

typedef struct bench_result {
    const char *entry;   /* "gemm", "attention", ... */
    char name[96];       /* "builtin f32 NT", the variant */
    char shape[96];      /* "M=128 N=768 K=768" */
    double flops;        /* per run, 0 if not a compute case */
    double bytes;        /* fewest bytes a run must move */
    double med_s, min_s, p90_s, p99_s;
    const char *baseline; /* NULL or the baseline's name */
    double baseline_s;    /* its median */
    const char *baseline2; /* NULL or a second same-run baseline (CLBlast for our GEMM) */
    double baseline2_s;
    double device_mem_bytes; /* device memory the case allocated, 0 if not reported */
    /* whole stacks */
    int64_t batch, seq_len, new_tokens; /* 0 when not a stack case */
    double tokens_per_s;                /* generated tokens (all sequences) / median s */
    double cold_start_s, warm_start_s;  /* process start to first result; 0 = not measured */
    double untuned_med_s; /* --tuning both: the default profile's median, timed interleaved
                           * with the tuned one's runs; 0 otherwise */
} bench_result;

/* Times fn(arg) (which enqueues work) reps times after warmup runs, each run
 * ended by clf_context_finish; fills the statistics of *res. Returns 0, or -1
 * if fn failed (the error is printed). */
int bench_time(bench_run *r, int (*fn)(void *arg), void *arg, bench_result *res);

/* Times a host function the same way (for CPU baselines). */
int bench_time_host(bench_run *r, void (*fn)(void *arg), void *arg, double *median_s);

/* Prints one table row and writes the JSON record. */
void bench_report(bench_run *r, const bench_result *res);

/* Shows "entry: case" on the progress line (when stderr is a terminal). */
void bench_progress(bench_run *r, const char *entry, const char *what);

/* Measures the device's ceilings. */
int bench_measure_ceilings(bench_run *r);

/* Uniform random floats in [-1, 1) into a host array, from a fixed stream. */
void bench_random(float *x, size_t n, unsigned seed);

/* Makes a tensor filled with random values (f32 or f16 storage). */
int bench_tensor(bench_run *r, clf_dtype dtype, int ndim, const int64_t *shape, unsigned seed,
                 clf_tensor *out);

/* Prints the failing call's status and the context's message; counts it. */
int bench_fail(bench_run *r, const char *what, clf_status st);

/* The entries; each runs its cases on r's device. */
int bench_gemm(bench_run *r);
int bench_attention(bench_run *r);
int bench_ops(bench_run *r); /* softmax, norm, elementwise, embedding, topk, copy */
int bench_batch(bench_run *r); /* continuous batching vs sequential generation (bench_batch.c) */
int bench_stack(bench_run *r); /* whole stacks with random weights, cold/warm start */

/* The child process of a start measurement: `clformer bench --start CASE
 * --device SPEC` (see bench_stack.c). */
int bench_stack_start_child(const char *id, const char *device);

/* `clformer bench`: argv[0] is "bench". */
int bench_main(int argc, char **argv);

#endif
