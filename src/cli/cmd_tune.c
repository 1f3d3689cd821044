/* clformer tune: the per-device autotuner (include/clformer/tune.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_json.h"

void cli_tune_usage(FILE *out)
{
    fprintf(out,
            "usage: clformer tune [--device SPEC] [--quick] [--only GROUPS] [--reps N] [--no-save]\n"
            "                     [--json]\n\n"
            "Measures the kernel profile's tunable values (GEMV shape, GPU GEMM tiles,\n"
            "attention tiles, the integer GEMV / GEMM shapes over Q8 and Q4 weights,\n"
            "row-kernel work-group sizes) on the bench stacks' shapes,\n"
            "checking every candidate against a host reference before timing it, and\n"
            "stores the winners in the cache folder: later contexts on this device, driver\n"
            "and library version use them (CLFORMER_TUNE=0 ignores them). Tunes the\n"
            "context's kernel family (CLFORMER_KERNELS forces one).\n"
            "  --device SPEC  best, gpu, dgpu, igpu, accelerator, cpu, P:D or a name\n"
            "  --quick        fewer candidates (within 2x of each default) and shapes\n"
            "  --only GROUPS  a comma list of gemv, gemm_tiled (GPU family), attn_flash,\n"
            "                 attn_decode, gemv_int and gemm_int (CPU family: the integer\n"
            "                 forms over Q8 / Q4 weights), rows; the others keep their\n"
            "                 defaults\n"
            "  --reps N       timed runs per measurement (default 3 quick, 5 full)\n"
            "  --no-save      apply nothing to disk (report only)\n"
            "  --json         one JSON document on stdout (progress still on stderr)\n");
}

static void progress(const char *line, void *user)
{
    FILE *out = user;
    fprintf(out, "%s\n", line);
    fflush(out);
}

static int print_json(const clf_device_info *d, const clf_kernel_profile *kp, const clf_tune_report *r)
{
    json_object *o = cli_json_object();
    cli_json_set(o, "device", cli_json_string(d->name));
    cli_json_set(o, "driver", cli_json_string(d->driver_version));
    cli_json_set(o, "family", cli_json_string(clf_kernel_family_name(kp->family)));
    cli_json_set(o, "seconds", cli_json_number(r->seconds));
    cli_json_set(o, "file", cli_json_string(r->path[0] ? r->path : NULL));
    json_object *gs = cli_json_array();
    for (int i = 0; i < r->n_groups; i++) {
        const clf_tune_group_result *g = &r->groups[i];
        json_object *j = cli_json_object();
        cli_json_set(j, "group", cli_json_string(g->name));
        cli_json_set(j, "shapes", cli_json_string(g->shapes));
        cli_json_set(j, "default_s", cli_json_number(g->default_s));
        cli_json_set(j, "tuned_s", cli_json_number(g->tuned_s));
        cli_json_set(j, "candidate_s", g->candidate_s > 0 ? cli_json_number(g->candidate_s) : NULL);
        cli_json_set(j, "tried", cli_json_int(g->tried));
        cli_json_set(j, "rejected", cli_json_int(g->rejected));
        cli_json_set(j, "changed", cli_json_bool(g->changed));
        cli_json_set(j, "values", cli_json_string(g->values));
        cli_json_push(gs, j);
    }
    cli_json_set(o, "groups", gs);
    return cli_json_write(stdout, o, CLI_JSON_PRETTY, "tune");
}

int cli_tune(int argc, char **argv)
{
    clf_context_params p = clf_context_params_default();
    p.untuned = true; /* start from the defaults; clf_tune does anyway */
    clf_tune_params tp = {0};
    int json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"quick", no_argument, NULL, 'q'},
                                         {"no-save", no_argument, NULL, 'n'},
                                         {"reps", required_argument, NULL, 'r'},
                                         {"only", required_argument, NULL, 'o'},
                                         {"device", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt("tune", argc, argv, opts, cli_tune_usage)) != -1;) {
        if (c == -2) return 2;
        if (c == 'j') json = 1;
        else if (c == 'q') tp.quick = true;
        else if (c == 'n') tp.no_save = true;
        else if (c == 'd') p.device = optarg;
        else if (c == 'o') tp.groups = optarg;
        else if (c == 'r') {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 16) {
                fprintf(stderr, "clformer tune: --reps \"%s\": expected 1..16\n", optarg);
                return 2;
            }
            tp.reps = (int)v;
        }
    }
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK) return cli_fail("tune", st, clf_context_last_error(NULL));
    const clf_device_info *d = clf_context_device(ctx);
    const clf_kernel_profile *kp = clf_context_kernel_profile(ctx);
    FILE *log = json ? stderr : stdout;
    fprintf(log, "device   %s (%s), driver %s, clformer %s\n", d->name,
            clf_device_class_name(d->device_class), d->driver_version, clf_version());
    fprintf(log, "family   %s (%s); limits: work-group %llu, local memory %llu B; %s\n",
            clf_kernel_family_name(kp->family), kp->family_reason,
            (unsigned long long)kp->limits.max_work_group_size,
            (unsigned long long)kp->limits.local_mem_bytes, tp.quick ? "quick" : "full");
    tp.progress = progress;
    tp.user = log;
    clf_tune_report rep;
    st = clf_tune(ctx, &tp, &rep);
    if (st != CLF_OK) {
        int rc = cli_fail("tune", st, clf_context_last_error(ctx));
        clf_context_free(ctx);
        return rc;
    }
    int rc = 0;
    if (json) {
        rc = print_json(d, kp, &rep);
    } else {
        printf("\n%-12s %12s %12s %8s  %s\n", "group", "default ms", "tuned ms", "speedup", "chosen values");
        for (int i = 0; i < rep.n_groups; i++) {
            const clf_tune_group_result *g = &rep.groups[i];
            printf("%-12s %12.3f %12.3f %7.2fx  %s%s\n", g->name, g->default_s * 1e3, g->tuned_s * 1e3,
                   g->tuned_s > 0 ? g->default_s / g->tuned_s : 0.0, g->values,
                   g->changed ? "" : " (defaults kept)");
            printf("%-12s shapes: %s; %d candidates timed, %d rejected", "", g->shapes, g->tried, g->rejected);
            if (!g->changed && g->candidate_s > 0)
                printf("; the search's best (%.3f ms against %.3f) was not confirmed", g->candidate_s * 1e3,
                       g->default_s * 1e3);
            printf("\n");
        }
        printf("\ntuned in %.1f s; %s %s\n", rep.seconds, rep.path[0] ? "stored in" : "not stored",
               rep.path[0] ? rep.path : "");
    }
    clf_context_free(ctx);
    return rc;
}
