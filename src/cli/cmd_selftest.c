/* clformer selftest: build every kernel and prove the device computes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

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
    if (json) {
        printf("{\"device\": ");
        cli_json_string(stdout, d->name);
        printf(", \"class\": \"%s\", \"cache_dir\": ", clf_device_class_name(d->device_class));
        if (cache) cli_json_string(stdout, cache);
        else printf("null");
        printf(", \"context_s\": %.6f, \"programs\": %d, \"built\": %d, \"cache_hits\": %d, "
               "\"cache_rejected\": %d, \"build_s\": %.6f, \"check_s\": %.6f, "
               "\"max_abs_error\": %g, \"ok\": %s}\n",
               t_ctx, bs.programs, bs.built, bs.cache_hits, bs.cache_rejected, bs.seconds, t_run,
               max_err, st == CLF_OK ? "true" : "false");
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
    int rc = 0;
    if (st != CLF_OK) rc = cli_fail("selftest", st, clf_context_last_error(ctx));
    clf_context_free(ctx);
    return rc;
}
