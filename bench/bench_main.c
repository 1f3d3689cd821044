/*
 * `clformer bench`: the harness. Per device: ceilings, then each entry's
 * cases; a table on stdout, one JSON record per case with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli_args.h"
#include "cli/cli_json.h"
#include "bench_stats.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Nearest-rank percentile of sorted samples. */
static double pct(const double *s, int n, double p)
{
    int i = (int)ceil(p * n) - 1;
    return s[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static void stats(double *s, int n, bench_result *res)
{
    res->med_s = bench_median(s, n); /* sorts s */
    res->min_s = s[0];
    res->p90_s = pct(s, n, 0.90);
    res->p99_s = pct(s, n, 0.99);
}

int bench_fail(bench_run *r, const char *what, clf_status st)
{
    fprintf(stderr, "bench: %s: %s: %s\n", what, clf_status_str(st), clf_context_last_error(r->ctx));
    r->failures++;
    return -1;
}

/* One timed run of fn under profile p (NULL = leave the context's). */
static int run_once(bench_run *r, int (*fn)(void *arg), void *arg, const clf_kernel_profile *p,
                    double *s, clf_status *st)
{
    *st = p ? clf_context_set_kernel_profile(r->ctx, p) : CLF_OK;
    if (*st != CLF_OK) return -1;
    double t0 = now_s();
    int rc = fn(arg);
    *st = clf_context_finish(r->ctx);
    *s = now_s() - t0;
    return rc != 0 || *st != CLF_OK ? -1 : 0;
}

/* With --tuning both, every repeat runs the case under the default and
 * under the tuned profile of the same context (in alternating order), so
 * load drifts hit both alike; res gets the tuned statistics and the
 * default's median. */
int bench_time(bench_run *r, int (*fn)(void *arg), void *arg, bench_result *res)
{
    int reps = r->reps > 0 ? r->reps : 1;
    bool both = r->tuning == 2;
    clf_kernel_profile prof[2];
    prof[1] = *clf_context_kernel_profile(r->ctx);
    prof[0] = *clf_context_default_profile(r->ctx);
    double *s = malloc((size_t)reps * 2 * sizeof *s), junk;
    if (!s) return -1;
    clf_status st = CLF_OK;
    int rc = 0;
    for (int i = 0; i < r->warmup && rc == 0; i++)
        for (int c = both ? 0 : 1; c < 2 && rc == 0; c++) rc = run_once(r, fn, arg, both ? &prof[c] : NULL, &junk, &st);
    for (int i = 0; i < reps && rc == 0; i++)
        for (int j = both ? 0 : 1; j < 2 && rc == 0; j++) {
            int c = both && (i & 1) ? 1 - j : j; /* odd repeats: tuned first */
            rc = run_once(r, fn, arg, both ? &prof[c] : NULL, &s[c * reps + i], &st);
        }
    if (both) (void)clf_context_set_kernel_profile(r->ctx, &prof[1]);
    if (rc != 0) {
        free(s);
        return bench_fail(r, res->name[0] ? res->name : res->entry, st ? st : CLF_ERR_OPENCL);
    }
    if (both) {
        bench_result def;
        stats(s, reps, &def);
        res->untuned_med_s = def.med_s;
    }
    stats(s + reps, reps, res);
    free(s);
    return 0;
}

int bench_time_host(bench_run *r, void (*fn)(void *arg), void *arg, double *median_s)
{
    int reps = r->reps > 0 ? r->reps : 1;
    double *s = malloc((size_t)reps * sizeof *s);
    if (!s) return -1;
    for (int i = 0; i < r->warmup; i++) fn(arg);
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        fn(arg);
        s[i] = now_s() - t0;
    }
    bench_result tmp;
    stats(s, reps, &tmp);
    *median_s = tmp.med_s;
    free(s);
    return 0;
}

void bench_random(float *x, size_t n, unsigned seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

int bench_tensor(bench_run *r, clf_dtype dtype, int ndim, const int64_t *shape, unsigned seed,
                 clf_tensor *out)
{
    clf_status st = clf_tensor_create(r->ctx, dtype, ndim, shape, out);
    if (st != CLF_OK) return bench_fail(r, "tensor", st);
    int64_t n = clf_tensor_numel(out);
    float *h = malloc((size_t)n * sizeof *h);
    if (!h) return -1;
    bench_random(h, (size_t)n, seed);
    if (dtype == CLF_I32)
        for (int64_t i = 0; i < n; i++) h[i] = (float)((int64_t)((h[i] + 1) * 1000) % 1000);
    st = clf_tensor_write_f32(r->ctx, out, h, n);
    free(h);
    return st == CLF_OK ? 0 : bench_fail(r, "tensor upload", st);
}

void bench_progress(bench_run *r, const char *entry, const char *what)
{
    if (!r->progress) return;
    int width = 24, total = r->prog_total > 0 ? r->prog_total : 1;
    int fill = r->prog_done * width / total;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %d/%d %.0f s  %s: %.50s", bar, r->prog_done, total, now_s() - r->t_begin,
            entry, what);
    fflush(stderr);
}

static void progress_clear(const bench_run *r)
{
    if (!r->progress) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

/* The --json FILE document, {"clformer": version, "records": [...]}: kept
 * in memory and written whole after every record, so that the file holds
 * valid JSON even when the run is cut short (a timeout). */
struct bench_json {
    FILE *f;
    json_object *doc, *records; /* records: borrowed from doc */
    bool regular; /* a regular file: rewritten in place; else written once, at the end */
    bool broken;  /* a write failed (reported): the document may lack a record; no more writes */
};

/* Writes the document: in place (truncated first) when the file is a
 * regular one, else only when final. Returns 0, or 1 with the error
 * printed. */
static int bench_json_write(bench_json *j, bool final)
{
    if (j->broken) return 1;
    if (!j->regular && !final) return 0;
    if (j->regular) {
        rewind(j->f);
        if (ftruncate(fileno(j->f), 0) != 0) {
            fprintf(stderr, "clformer bench: cannot rewrite the JSON file: %s\n", strerror(errno));
            j->broken = true;
            return 1;
        }
    }
    int rc = cli_json_write(j->f, json_object_get(j->doc), CLI_JSON_PRETTY, "bench");
    if (fflush(j->f) != 0 && rc == 0) {
        fprintf(stderr, "clformer bench: cannot write the JSON file: %s\n", strerror(errno));
        rc = 1;
    }
    j->broken = rc != 0;
    return rc;
}

static bench_json *bench_json_open(const char *path)
{
    bench_json *j = calloc(1, sizeof *j);
    if (!j || !(j->f = fopen(path, "w"))) {
        fprintf(stderr, "clformer bench: cannot write %s\n", path);
        free(j);
        return NULL;
    }
    struct stat sb;
    j->regular = fstat(fileno(j->f), &sb) == 0 && S_ISREG(sb.st_mode);
    j->doc = cli_json_object();
    j->records = cli_json_array();
    cli_json_set(j->doc, "clformer", cli_json_string(clf_version()));
    /* The document keeps records alive; j->records is only a handle. */
    cli_json_set(j->doc, "records", j->records);
    return j;
}

/* The last write, then closes; returns 0 or 1 (printed). NULL: nothing. */
static int bench_json_close(bench_json *j)
{
    if (!j) return 0;
    int rc = bench_json_write(j, true);
    if (fclose(j->f) != 0 && rc == 0) {
        fprintf(stderr, "clformer bench: cannot write the JSON file: %s\n", strerror(errno));
        rc = 1;
    }
    json_object_put(j->doc);
    free(j);
    return rc;
}

/* Appends the case's record to the document and writes the document again
 * (bench_json_write): the file holds a whole JSON document after every
 * case. */
static void bench_json_record(bench_run *r, const bench_result *res, double gflops, double gbs,
                              double roof, double ratio)
{
    json_object *o = cli_json_object();
    cli_json_set(o, "device", cli_json_string(r->dev->name));
    cli_json_set(o, "device_type", cli_json_string(clf_device_class_name(r->dev->device_class)));
    cli_json_set(o, "driver", cli_json_string(r->dev->driver_version));
    /* Two devices of one model in a machine share a name: the index tells them apart. */
    char idx[32];
    snprintf(idx, sizeof idx, "%d:%d", r->dev->platform_index, r->dev->device_index);
    cli_json_set(o, "device_index", cli_json_string(idx));
    cli_json_set(o, "entry", cli_json_string(res->entry));
    cli_json_set(o, "case", cli_json_string(res->name));
    cli_json_set(o, "shape", cli_json_string(res->shape));
    cli_json_set(o, "median_s", cli_json_number(res->med_s));
    cli_json_set(o, "min_s", cli_json_number(res->min_s));
    cli_json_set(o, "p90_s", cli_json_number(res->p90_s));
    cli_json_set(o, "p99_s", cli_json_number(res->p99_s));
    cli_json_set(o, "flops", cli_json_number(res->flops));
    cli_json_set(o, "bytes", cli_json_number(res->bytes));
    cli_json_set(o, "gflops", cli_json_number(gflops));
    cli_json_set(o, "gbs", cli_json_number(gbs));
    cli_json_set(o, "roofline_pct", cli_json_number(roof));
    cli_json_set(o, "bandwidth_ceiling_gbs", cli_json_number(r->ceil.bandwidth_gbs));
    cli_json_set(o, "compute_ceiling_gflops", cli_json_number(r->ceil.roof_gflops));
    cli_json_set(o, "roof_source", cli_json_string(r->ceil.roof_source ? r->ceil.roof_source : ""));
    cli_json_set(o, "device_mem_bytes", cli_json_number(res->device_mem_bytes));
    /* null when the case has no baseline */
    cli_json_set(o, "baseline", cli_json_string(res->baseline));
    cli_json_set(o, "baseline_median_s", res->baseline ? cli_json_number(res->baseline_s) : NULL);
    cli_json_set(o, "ratio_vs_baseline", res->baseline ? cli_json_number(ratio) : NULL);
    if (res->baseline2 && res->baseline2_s > 0) {
        cli_json_set(o, "baseline2", cli_json_string(res->baseline2));
        cli_json_set(o, "baseline2_median_s", cli_json_number(res->baseline2_s));
        cli_json_set(o, "ratio_vs_baseline2", cli_json_number(res->baseline2_s / res->med_s));
    }
    if (res->untuned_med_s > 0) cli_json_set(o, "default_profile_median_s", cli_json_number(res->untuned_med_s));
    if (res->batch > 0) {
        cli_json_set(o, "batch", cli_json_int(res->batch));
        cli_json_set(o, "seq_len", cli_json_int(res->seq_len));
        cli_json_set(o, "new_tokens", cli_json_int(res->new_tokens));
        if (res->tokens_per_s > 0)
            cli_json_set(o, "tokens_per_s", cli_json_number(res->tokens_per_s));
        if (res->cold_start_s > 0) {
            cli_json_set(o, "cold_start_s", cli_json_number(res->cold_start_s));
            cli_json_set(o, "warm_start_s", cli_json_number(res->warm_start_s));
        }
    }
    cli_json_push(r->json->records, o);
    /* One failure counted: later writes of a broken document are skipped. */
    if (!r->json->broken && bench_json_write(r->json, false) != 0) r->failures++;
}

/* --tuning both: the case's median under the pass's profile, matched to
 * the same case of the other pass by entry, name and shape. */
static void tuning_record(bench_run *r, const bench_result *res)
{
    bench_tuning_table *t = r->table;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        bench_tuning_row *grown = realloc(t->rows, (size_t)cap * sizeof *grown);
        if (!grown) return;
        t->rows = grown, t->cap = cap;
    }
    bench_tuning_row *row = &t->rows[t->n++];
    memset(row, 0, sizeof *row);
    snprintf(row->entry, sizeof row->entry, "%s", res->entry);
    snprintf(row->name, sizeof row->name, "%s", res->name);
    snprintf(row->shape, sizeof row->shape, "%s", res->shape);
    row->med_s[0] = res->untuned_med_s;
    row->med_s[1] = res->med_s;
}

static void tuning_table(const bench_tuning_table *t)
{
    printf("\n  default vs tuned profile (medians, ms; every repeat ran both profiles, "
           "alternating which went first):\n");
    printf("  %-10s %-24s %-26s %10s %10s %8s\n", "entry", "case", "shape", "default", "tuned", "speedup");
    for (int i = 0; i < t->n; i++) {
        const bench_tuning_row *row = &t->rows[i];
        printf("  %-10s %-24.24s %-26.26s %10.3f %10.3f", row->entry, row->name, row->shape,
               row->med_s[0] * 1e3, row->med_s[1] * 1e3);
        if (row->med_s[0] > 0 && row->med_s[1] > 0) printf(" %7.2fx", row->med_s[0] / row->med_s[1]);
        printf("\n");
    }
}

void bench_report(bench_run *r, const bench_result *res)
{
    double gflops = res->flops > 0 ? res->flops / res->med_s / 1e9 : 0;
    double gbs = res->bytes > 0 ? res->bytes / res->med_s / 1e9 : 0;
    /* Floor time: the larger of compute and memory time at the ceilings. */
    double floor_s = 0;
    if (res->flops > 0 && r->ceil.roof_gflops > 0) floor_s = res->flops / (r->ceil.roof_gflops * 1e9);
    if (res->bytes > 0 && r->ceil.bandwidth_gbs > 0) {
        double mem_s = res->bytes / (r->ceil.bandwidth_gbs * 1e9);
        if (mem_s > floor_s) floor_s = mem_s;
    }
    double roof = floor_s > 0 ? 100.0 * floor_s / res->med_s : 0;
    double ratio = res->baseline && res->baseline_s > 0 ? res->baseline_s / res->med_s : 0;
    progress_clear(r);
    printf("  %-10s %-27.27s %-26.26s %9.3f %9.3f %9.3f %8.1f %8.1f %6.1f%%", res->entry, res->name,
           res->shape, res->med_s * 1e3, res->min_s * 1e3, res->p90_s * 1e3, gflops, gbs, roof);
    if (res->baseline) printf("  %.2fx %s", ratio, res->baseline);
    if (res->baseline2 && res->baseline2_s > 0)
        printf("  %.2fx %s", res->baseline2_s / res->med_s, res->baseline2);
    if (res->untuned_med_s > 0)
        printf("  default profile %.3f ms (%.2fx)", res->untuned_med_s * 1e3, res->untuned_med_s / res->med_s);
    if (res->device_mem_bytes > 0) printf("  mem %.1f MiB", res->device_mem_bytes / 1048576.0);
    if (res->tokens_per_s > 0) printf("  %.1f tok/s", res->tokens_per_s);
    if (res->cold_start_s > 0) printf("  start cold %.2f s warm %.3f s", res->cold_start_s, res->warm_start_s);
    printf("\n");
    fflush(stdout);
    if (r->json) bench_json_record(r, res, gflops, gbs, roof, ratio);
    if (r->table && res->untuned_med_s > 0) tuning_record(r, res);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: clformer bench [--device SPEC]... [--quick] [--json FILE] [--filter NAME]\n"
            "                      [--reps N] [--no-start] [--tuning tuned|default|both]\n\n"
            "Benchmarks ops and whole stacks on every OpenCL device (or those named):\n"
            "measured ceilings first, then each case's median, min and p90 time after\n"
            "warm-up, GFLOP/s, GB/s, roofline %% and the ratio to a baseline measured in\n"
            "the same run; for the stacks (BERT-base, Transformer-base, GPT-2 small with\n"
            "random weights) tokens/s and the cold (empty cache) and warm start of a new\n"
            "process to its first result.\n"
            "  --device SPEC  best, gpu, cpu, P:D or a name; repeat for several devices\n"
            "  --quick        a short set of cases and repeats\n"
            "  --json FILE    one record per case\n"
            "  --filter NAME  only entries whose name contains NAME (gemm, attention, ops,\n"
            "                 stack)\n"
            "  --reps N       timed repeats per case (default 5 quick, 15 full; fewer for\n"
            "                 the heavy stack cases)\n"
            "  --no-start     skip the cold/warm start measurements\n"
            "  --tuning MODE  tuned (default): the values `clformer tune` stored, where there\n"
            "                 are any; default: the untuned profile; both: every repeat of a\n"
            "                 case runs under both profiles, interleaved, and a table of the\n"
            "                 two medians per case ends each device (the main rows are the\n"
            "                 tuned; start measurements follow CLFORMER_TUNE)\n");
}

typedef struct entry {
    const char *name;
    int (*run)(bench_run *r);
} entry;

static const entry entries[] = {
    {"gemm", bench_gemm},
    {"attention", bench_attention},
    {"ops", bench_ops},
    {"stack", bench_stack},
    {"batch", bench_batch},
};
#define N_ENTRIES (sizeof entries / sizeof entries[0])

static clf_context *open_device(const char *spec, bool untuned)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.untuned = untuned;
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK)
        fprintf(stderr, "bench: %s: %s: %s\n", spec, clf_status_str(st), clf_context_last_error(NULL));
    return ctx;
}

static int bench_device(const char *spec, bench_run *proto)
{
    clf_context *ctx = open_device(spec, proto->tuning == 1);
    if (!ctx) return 1;
    bench_run r = *proto;
    r.ctx = ctx;
    r.dev = clf_context_device(ctx);
    const clf_kernel_profile *kp = clf_context_kernel_profile(ctx);
    bench_tuning_table table = {NULL, 0, 0};
    r.table = r.tuning == 2 ? &table : NULL;
    printf("\n== %s (%s, %u compute units, %u MHz, driver %s; %s profile)\n", r.dev->name,
           clf_device_class_name(r.dev->device_class), r.dev->compute_units, r.dev->clock_mhz,
           r.dev->driver_version, r.tuning == 2 ? "default and tuned" : kp->tuned ? "tuned" : "default");
    if (r.tuning == 2 && !kp->tuned)
        printf("  (no stored tuning for %s: run `clformer tune --device %s`; both profiles are the "
               "default)\n", spec, spec);
    bench_measure_ceilings(&r);
    printf("  %-10s %-27s %-26s %9s %9s %9s %8s %8s %7s  %s\n", "entry", "case", "shape", "med ms",
           "min ms", "p90 ms", "GFLOP/s", "GB/s", "roof", "baseline");
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (r.filter && !strstr(entries[i].name, r.filter)) continue;
        bench_progress(&r, entries[i].name, "");
        entries[i].run(&r);
        r.prog_done++;
    }
    progress_clear(&r);
    if (r.table) tuning_table(&table);
    free(table.rows);
    proto->prog_done = r.prog_done;
    proto->failures += r.failures;
    clf_context_free(ctx);
    return 0;
}

int bench_main(int argc, char **argv)
{
    bench_run proto = {0};
    const char *devices[16];
    int n_devices = 0;
    const char *json_path = NULL, *start_case = NULL;
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},        {"no-start", no_argument, NULL, 'n'},
        {"start", required_argument, NULL, 's'},  {"device", required_argument, NULL, 'd'},
        {"json", required_argument, NULL, 'j'},   {"filter", required_argument, NULL, 'f'},
        {"reps", required_argument, NULL, 'r'},   {"help", no_argument, NULL, 'h'},
        {"tuning", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    char err[512] = "";
    double reps = 0;
    int c;
    optind = 0; /* glibc: a full restart of getopt's state */
    opterr = 0;
    while (!err[0] && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': proto.quick = true; break;
        case 'n': proto.no_start = true; break;
        case 's': start_case = optarg; break;
        case 'd':
            if (n_devices == 16) snprintf(err, sizeof err, "at most 16 --device options");
            else devices[n_devices++] = optarg;
            break;
        case 'j': json_path = optarg; break;
        case 'f': proto.filter = optarg; break;
        case 'r':
            if (cli_number("--reps", optarg, (cli_num_rule){false, 1, 100000, false}, &reps, err,
                           sizeof err))
                proto.reps = (int)reps;
            break;
        case 't':
            if (!strcmp(optarg, "tuned")) proto.tuning = 0;
            else if (!strcmp(optarg, "default")) proto.tuning = 1;
            else if (!strcmp(optarg, "both")) proto.tuning = 2;
            else snprintf(err, sizeof err, "--tuning \"%s\": expected tuned, default or both", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: cli_option_message(c, argc, argv, err, sizeof err);
        }
    }
    if (!err[0] && optind < argc)
        snprintf(err, sizeof err, "unexpected argument \"%s\"", argv[optind]);
    if (err[0]) {
        fprintf(stderr, "clformer bench: %s\n", err);
        usage(stderr);
        return 2;
    }
    if (start_case) return bench_stack_start_child(start_case, n_devices ? devices[0] : NULL);
    proto.reps_forced = proto.reps > 0;
    if (proto.reps <= 0) proto.reps = proto.quick ? 5 : 15;
    proto.warmup = 2;
    char specs[16][32];
    if (n_devices == 0) {
        clf_device_info *devs;
        size_t n;
        clf_status st = clf_devices_list(&devs, &n);
        if (st != CLF_OK) {
            fprintf(stderr, "clformer bench: %s: %s\n", clf_status_str(st), clf_context_last_error(NULL));
            return 1;
        }
        for (size_t i = 0; i < n && n_devices < 16; i++) {
            snprintf(specs[n_devices], 32, "%d:%d", devs[i].platform_index, devs[i].device_index);
            devices[n_devices] = specs[n_devices];
            n_devices++;
        }
        clf_devices_free(devs);
    }
    if (json_path && !(proto.json = bench_json_open(json_path))) return 1;
    proto.progress = isatty(2);
    proto.t_begin = now_s();
    size_t n_run = 0;
    for (size_t i = 0; i < N_ENTRIES; i++) n_run += !proto.filter || strstr(entries[i].name, proto.filter);
    proto.prog_total = (int)n_run * n_devices;
    int rc = 0;
    for (int d = 0; d < n_devices; d++) rc |= bench_device(devices[d], &proto);
    rc |= bench_json_close(proto.json);
    if (proto.failures) fprintf(stderr, "bench: %d case(s) failed\n", proto.failures);
    return rc || proto.failures ? 1 : 0;
}
