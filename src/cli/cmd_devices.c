/* clformer devices: every OpenCL device, its capabilities, and the pick. */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_json.h"

/* A device chosen by clf_device_choose, and why. */
typedef struct cli_pick {
    size_t index;
    char why[256];
} cli_pick;

void cli_devices_usage(FILE *out)
{
    fprintf(out, "usage: clformer devices [--device SPEC] [--json] [--no-measure]\n\n"
                 "Lists every OpenCL device. The selected one (marked *) follows --device,\n"
                 "else $CLFORMER_DEVICE, else the best: by class (dgpu > igpu > accelerator\n"
                 "> cpu), then, between devices of one class, by score: the measured speed\n"
                 "of a short workload, cached per device and driver (measured here when\n"
                 "missing, as a context would), else by compute units x clock.\n"
                 "CLFORMER_DEVICE_SCORE=0 ranks by compute units x clock only.\n"
                 "  --device SPEC  best, gpu, dgpu, igpu, accelerator, cpu, P:D or a name\n"
                 "  --json         one JSON document on stdout\n"
                 "  --no-measure   show cached scores only; measure nothing\n");
}

/* Sets key to a JSON array of n ints. */
static void set_ints(json_object *o, const char *key, const int *v, size_t n)
{
    json_object *a = cli_json_array();
    for (size_t i = 0; i < n; i++) cli_json_push(a, cli_json_int(v[i]));
    cli_json_set(o, key, a);
}

/* The kernel profile of one device (the profile a context would make there:
 * CLFORMER_KERNELS, CLFORMER_DEVICE_LIMITS, CLFORMER_GEMV_MAX_M and
 * CLFORMER_HALF_MATH apply). */
static json_object *profile_json(const clf_kernel_profile *p)
{
    const clf_device_limits *l = &p->limits;
    json_object *o = cli_json_object(), *lim = cli_json_object(), *wa = cli_json_array(),
                *at = cli_json_object();
    cli_json_set(o, "family", cli_json_string(clf_kernel_family_name(p->family)));
    cli_json_set(o, "reason", cli_json_string(p->family_reason));
    cli_json_set(lim, "max_work_group_size", cli_json_int((int64_t)l->max_work_group_size));
    cli_json_set(lim, "kernel_work_group_size", cli_json_int((int64_t)l->kernel_work_group_size));
    cli_json_set(lim, "local_mem_bytes", cli_json_int((int64_t)l->local_mem_bytes));
    cli_json_set(lim, "max_alloc_bytes", cli_json_int((int64_t)l->max_alloc_bytes));
    cli_json_set(lim, "fp16", cli_json_bool(l->fp16));
    cli_json_set(lim, "subgroups", cli_json_bool(l->subgroups));
    cli_json_set(lim, "opencl_version", cli_json_int(l->opencl_version));
    cli_json_set(lim, "simulated", cli_json_bool(p->limits_simulated));
    cli_json_set(o, "limits", lim);
    if (p->workarounds & CLF_WORKAROUND_HALF8_UNALIGNED)
        cli_json_push(wa, cli_json_string("half8-unaligned"));
    cli_json_set(o, "workarounds", wa);
    cli_json_set(o, "gemv_max_m", cli_json_int(p->gemv_max_m));
    cli_json_set(o, "gemv_split", cli_json_int(p->gemv_split));
    cli_json_set(o, "gemv_vec", cli_json_int(p->gemv_vec));
    cli_json_set(o, "gemm_vec", cli_json_int(p->gemm_vec));
    cli_json_set(o, "gemv_i16", cli_json_int(p->gemv_i16));
    const int tile[] = {p->gemm_tile_m, p->gemm_tile_n, p->gemm_tile_k, p->gemm_work_m,
                        p->gemm_work_n};
    set_ints(o, "gemm_tile", tile, 5);
    cli_json_set(o, "gemm_measure_clblast", cli_json_bool(p->gemm_measure_clblast));
    cli_json_set(o, "half_math", cli_json_int(p->half_math));
    cli_json_set(o, "half_reason", cli_json_string(p->half_reason));
    cli_json_set(o, "row_per_item", cli_json_bool(p->row_per_item));
    const int row_wg[] = {p->row_wg_min, p->row_wg_max};
    set_ints(o, "row_wg", row_wg, 2);
    cli_json_set(o, "elementwise_wg", cli_json_int(p->elementwise_wg));
    cli_json_set(at, "vec", cli_json_int(p->attn_vec));
    cli_json_set(at, "block_m", cli_json_int(p->attn_block_m));
    cli_json_set(at, "block_n", cli_json_int(p->attn_block_n));
    cli_json_set(at, "decode_wg", cli_json_int(p->attn_decode_wg));
    cli_json_set(at, "cpu_rows", cli_json_int(p->attn_cpu_rows));
    cli_json_set(at, "splits_per_cu", cli_json_int(p->attn_splits_per_cu));
    cli_json_set(o, "attention", at);
    return o;
}

/* One device: its capabilities, score (null when it has none), picks and
 * kernel profile. */
static json_object *device_json(const clf_device_info *x, const clf_kernel_profile *prof,
                                bool selected, bool best)
{
    json_object *o = cli_json_object(), *sg = cli_json_array();
    char idx[32];
    snprintf(idx, sizeof idx, "%d:%d", x->platform_index, x->device_index);
    cli_json_set(o, "index", cli_json_string(idx));
    cli_json_set(o, "class", cli_json_string(clf_device_class_name(x->device_class)));
    cli_json_set(o, "name", cli_json_string(x->name));
    cli_json_set(o, "vendor", cli_json_string(x->vendor));
    cli_json_set(o, "driver", cli_json_string(x->driver_version));
    cli_json_set(o, "platform", cli_json_string(x->platform_name));
    cli_json_set(o, "platform_version", cli_json_string(x->platform_version));
    cli_json_set(o, "opencl_c", cli_json_string(x->opencl_c_version));
    cli_json_set(o, "compute_units", cli_json_int(x->compute_units));
    cli_json_set(o, "clock_mhz", cli_json_int(x->clock_mhz));
    cli_json_set(o, "global_mem_bytes", cli_json_int((int64_t)x->global_mem_bytes));
    cli_json_set(o, "max_alloc_bytes", cli_json_int((int64_t)x->max_alloc_bytes));
    cli_json_set(o, "local_mem_bytes", cli_json_int((int64_t)x->local_mem_bytes));
    cli_json_set(o, "max_work_group_size", cli_json_int((int64_t)x->max_work_group_size));
    cli_json_set(o, "pref_vector_float", cli_json_int(x->pref_vector_float));
    cli_json_set(o, "fp16", cli_json_bool(x->fp16));
    cli_json_set(o, "fp64", cli_json_bool(x->fp64));
    cli_json_set(o, "subgroups", cli_json_bool(x->subgroups));
    for (uint32_t s = 0; s < x->n_subgroup_sizes; s++)
        cli_json_push(sg, cli_json_int(x->subgroup_sizes[s]));
    cli_json_set(o, "subgroup_sizes", sg);
    cli_json_set(o, "unified_memory", cli_json_bool(x->unified_memory));
    cli_json_set(o, "available", cli_json_bool(x->available));
    cli_json_set(o, "score", x->score > 0 ? cli_json_number(x->score) : NULL);
    cli_json_set(o, "selected", cli_json_bool(selected));
    cli_json_set(o, "best", cli_json_bool(best));
    cli_json_set(o, "kernel_profile", profile_json(prof));
    return o;
}

static int print_json(const clf_device_info *d, const clf_kernel_profile *prof, size_t n,
                      const cli_pick *sel, const cli_pick *best)
{
    json_object *doc = cli_json_object(), *devs = cli_json_array();
    cli_json_set(doc, "version", cli_json_string(clf_version()));
    cli_json_set(doc, "selected", cli_json_int((int64_t)sel->index));
    cli_json_set(doc, "why", cli_json_string(sel->why));
    cli_json_set(doc, "best", cli_json_int((int64_t)best->index));
    cli_json_set(doc, "best_why", cli_json_string(best->why));
    for (size_t i = 0; i < n; i++)
        cli_json_push(devs, device_json(&d[i], &prof[i], i == sel->index, i == best->index));
    cli_json_set(doc, "devices", devs);
    return cli_json_write(stdout, doc, CLI_JSON_PRETTY, "devices");
}

static void print_table(const clf_device_info *d, const clf_kernel_profile *prof, size_t n,
                        const cli_pick *sel, const cli_pick *best)
{
    printf("  %-5s %-6s %-40s %-14s %4s %9s %5s %-12s %-7s %7s\n", "index", "class", "name",
           "driver", "CUs", "memory", "fp16", "subgroups", "kernels", "score");
    for (size_t i = 0; i < n; i++) {
        const clf_device_info *x = &d[i];
        char idx[16], sg[32] = "no", score[16] = "-";
        snprintf(idx, sizeof idx, "%d:%d", x->platform_index, x->device_index);
        if (x->subgroups || x->n_subgroup_sizes) {
            int used = snprintf(sg, sizeof sg, "%s", x->subgroups ? "yes" : "width");
            for (uint32_t s = 0; s < x->n_subgroup_sizes && used < (int)sizeof sg; s++)
                used += snprintf(sg + used, sizeof sg - (size_t)used, "%s%u", s ? "/" : " ",
                                 x->subgroup_sizes[s]);
        }
        if (x->score > 0) snprintf(score, sizeof score, "%.0f", x->score);
        printf("%c %-5s %-6s %-40.40s %-14.14s %4u %6.1f GiB %5s %-12s %-7s %7s\n",
               i == sel->index ? '*' : ' ', idx, clf_device_class_name(x->device_class), x->name,
               x->driver_version, x->compute_units, (double)x->global_mem_bytes / (1 << 30),
               x->fp16 ? "yes" : "no", sg, clf_kernel_family_name(prof[i].family), score);
    }
    const clf_device_info *b = &d[best->index];
    printf("best: %d:%d %s (%s): %s\n", b->platform_index, b->device_index, b->name,
           b->platform_name, best->why);
    printf("(* = selected; override with --device or CLFORMER_DEVICE; score = measured speed of "
           "a short workload, higher is faster, - = not measured)\n");
}

int cli_devices(int argc, char **argv)
{
    const char *spec = getenv("CLFORMER_DEVICE");
    int json = 0;
    bool measure = true;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"no-measure", no_argument, NULL, 'n'},
                                         {"device", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt("devices", argc, argv, opts, cli_devices_usage)) != -1;) {
        if (c == -2) return 2;
        if (c == 'j') json = 1;
        else if (c == 'n') measure = false;
        else if (c == 'd') spec = optarg;
    }
    clf_device_info *devs = NULL;
    size_t n = 0;
    cli_pick sel = {0}, best = {0};
    clf_status st = clf_devices_list(&devs, &n);
    if (st != CLF_OK) return cli_fail("devices", st, clf_context_last_error(NULL));
    /* Every cached score, for the column; then the picks, which measure
     * what a context would measure (rivals of the best class) unless
     * --no-measure. A device that cannot be cached is shown as "-". */
    clf_devices_score(devs, n, false);
    st = clf_device_choose(devs, n, NULL, measure, &best.index, best.why, sizeof best.why);
    if (st == CLF_OK)
        st = clf_device_choose(devs, n, spec, measure, &sel.index, sel.why, sizeof sel.why);
    if (st != CLF_OK) {
        clf_devices_free(devs);
        return cli_fail("devices", st, clf_context_last_error(NULL));
    }
    /* Each device's kernel profile, as a context there would make it. */
    clf_kernel_profile *prof = calloc(n, sizeof *prof);
    if (!prof) {
        clf_devices_free(devs);
        return cli_fail("devices", CLF_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n && st == CLF_OK; i++)
        st = clf_kernel_profile_resolve(&devs[i], CLF_KERNELS_AUTO, NULL, &prof[i]);
    int rc = 0;
    if (st == CLF_OK) {
        if (json) rc = print_json(devs, prof, n, &sel, &best);
        else print_table(devs, prof, n, &sel, &best);
    }
    free(prof);
    clf_devices_free(devs);
    if (st != CLF_OK) return cli_fail("devices", st, clf_context_last_error(NULL));
    return rc;
}
