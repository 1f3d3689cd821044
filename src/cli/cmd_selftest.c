/* clformer selftest: build every kernel and prove the device computes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_json.h"

void cli_selftest_usage(FILE *out)
{
    fprintf(out,
            "usage: clformer selftest [--device SPEC] [--no-cache] [--json]\n\n"
            "Builds every kernel program of the library for the device (from the binary\n"
            "cache when it holds them), reports how long that took, then runs a small\n"
            "kernel and checks its result on the host.\n"
            "  --device SPEC  best, gpu, dgpu, igpu, accelerator, cpu, P:D or a name\n"
            "  --no-cache     do not read or write the disk cache\n"
            "  --json         one JSON document on stdout\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_selftest(int argc, char **argv)
{
    clf_context_params p = clf_context_params_default();
    int json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"no-cache", no_argument, NULL, 'n'},
                                         {"device", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt("selftest", argc, argv, opts, cli_selftest_usage)) != -1;) {
        if (c == -2) return 2;
        if (c == 'j') json = 1;
        else if (c == 'n') p.cache_dir = "";
        else if (c == 'd') p.device = optarg;
    }
    double t0 = now_s();
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK) return cli_fail("selftest", st, clf_context_last_error(NULL));
    double t_ctx = now_s() - t0;
    st = clf_context_build_all(ctx);
    if (st != CLF_OK) {
        int rc = cli_fail("selftest: building kernels", st, clf_context_last_error(ctx));
        clf_context_free(ctx);
        return rc;
    }
    clf_build_stats bs;
    clf_context_build_stats(ctx, &bs);
    double max_err = 0;
    double t1 = now_s();
    st = clf_context_selftest(ctx, &max_err);
    double t_run = now_s() - t1;
    const clf_device_info *d = clf_context_device(ctx);
    const char *cache = clf_context_cache_dir(ctx);
    int rc = 0;
    if (json) {
        json_object *o = cli_json_object();
        cli_json_set(o, "device", cli_json_string(d->name));
        cli_json_set(o, "class", cli_json_string(clf_device_class_name(d->device_class)));
        cli_json_set(o, "cache_dir", cli_json_string(cache)); /* null: no disk cache */
        cli_json_set(o, "context_s", cli_json_number(t_ctx));
        cli_json_set(o, "programs", cli_json_int(bs.programs));
        cli_json_set(o, "built", cli_json_int(bs.built));
        cli_json_set(o, "cache_hits", cli_json_int(bs.cache_hits));
        cli_json_set(o, "cache_rejected", cli_json_int(bs.cache_rejected));
        cli_json_set(o, "build_s", cli_json_number(bs.seconds));
        cli_json_set(o, "check_s", cli_json_number(t_run));
        cli_json_set(o, "max_abs_error", cli_json_number(max_err)); /* null if NaN */
        cli_json_set(o, "ok", cli_json_bool(st == CLF_OK));
        rc = cli_json_write(stdout, o, CLI_JSON_PRETTY, "selftest");
    } else {
        printf("device     %s (%s)\n", d->name, clf_device_class_name(d->device_class));
        printf("cache      %s\n", cache ? cache : "(off)");
        printf("context    %.3f s\n", t_ctx);
        printf("kernels    %d programs ready in %.3f s: %d compiled, %d from cache, %d cache "
               "entries rejected\n",
               bs.programs, bs.seconds, bs.built, bs.cache_hits, bs.cache_rejected);
        printf("check      smoke_axpy over 100003 elements: max abs error %.3g (%.3f s): %s\n",
               max_err, t_run, st == CLF_OK ? "ok" : "FAILED");
    }
    if (st != CLF_OK) rc = cli_fail("selftest", st, clf_context_last_error(ctx));
    clf_context_free(ctx);
    return rc;
}
