/* clformer devices: every OpenCL device, its capabilities, and the pick. */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

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

/* The kernel profile of one device as a JSON object (the profile a context
 * would make there: CLFORMER_KERNELS, CLFORMER_DEVICE_LIMITS and CLFORMER_GEMV_MAX_M apply). */
static void print_profile_json(const clf_kernel_profile *p)
{
    const clf_device_limits *l = &p->limits;
    printf("{\"family\": \"%s\", \"reason\": ", clf_kernel_family_name(p->family));
    cli_json_string(stdout, p->family_reason);
    printf(",\n       \"limits\": {\"max_work_group_size\": %llu, \"kernel_work_group_size\": %llu, "
           "\"local_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"fp16\": %s, "
           "\"subgroups\": %s, \"opencl_version\": %d, \"simulated\": %s},\n"
           "       \"workarounds\": [%s], \"gemv_max_m\": %d, \"gemv_split\": %d, "
           "\"gemv_vec\": %d, \"gemm_vec\": %d,\n       \"gemm_tile\": [%d, %d, %d, %d, %d], "
           "\"gemm_measure_clblast\": %s, \"row_per_item\": %s, \"row_wg\": [%d, %d], "
           "\"elementwise_wg\": %d,\n       \"attention\": {\"vec\": %d, \"block_m\": %d, "
           "\"block_n\": %d, \"decode_wg\": %d, \"cpu_rows\": %d, \"splits_per_cu\": %d}}",
           (unsigned long long)l->max_work_group_size, (unsigned long long)l->kernel_work_group_size,
           (unsigned long long)l->local_mem_bytes, (unsigned long long)l->max_alloc_bytes,
           l->fp16 ? "true" : "false", l->subgroups ? "true" : "false", l->opencl_version,
           p->limits_simulated ? "true" : "false",
           (p->workarounds & CLF_WORKAROUND_HALF8_UNALIGNED) ? "\"half8-unaligned\"" : "",
           p->gemv_max_m, p->gemv_split, p->gemv_vec, p->gemm_vec, p->gemm_tile_m, p->gemm_tile_n,
           p->gemm_tile_k, p->gemm_work_m, p->gemm_work_n,
           p->gemm_measure_clblast ? "true" : "false", p->row_per_item ? "true" : "false",
           p->row_wg_min, p->row_wg_max, p->elementwise_wg, p->attn_vec, p->attn_block_m,
           p->attn_block_n, p->attn_decode_wg, p->attn_cpu_rows, p->attn_splits_per_cu);
}

/* The device's score, or JSON null when it has none. */
static void print_score_json(double score)
{
    if (score > 0) printf("%.6g", score);
    else printf("null");
}

static void print_json(const clf_device_info *d, const clf_kernel_profile *prof, size_t n,
                       const cli_pick *sel, const cli_pick *best)
{
    printf("{\n  \"version\": ");
    cli_json_string(stdout, clf_version());
    printf(",\n  \"selected\": %zu, \"why\": ", sel->index);
    cli_json_string(stdout, sel->why);
    printf(",\n  \"best\": %zu, \"best_why\": ", best->index);
    cli_json_string(stdout, best->why);
    printf(",\n  \"devices\": [");
    for (size_t i = 0; i < n; i++) {
        const clf_device_info *x = &d[i];
        printf("%s\n    {\"index\": \"%d:%d\", \"class\": \"%s\", \"name\": ", i ? "," : "",
               x->platform_index, x->device_index, clf_device_class_name(x->device_class));
        cli_json_string(stdout, x->name);
        printf(", \"vendor\": ");
        cli_json_string(stdout, x->vendor);
        printf(", \"driver\": ");
        cli_json_string(stdout, x->driver_version);
        printf(", \"platform\": ");
        cli_json_string(stdout, x->platform_name);
        printf(", \"platform_version\": ");
        cli_json_string(stdout, x->platform_version);
        printf(", \"opencl_c\": ");
        cli_json_string(stdout, x->opencl_c_version);
        printf(",\n     \"compute_units\": %u, \"clock_mhz\": %u, \"global_mem_bytes\": %llu, "
               "\"max_alloc_bytes\": %llu, \"local_mem_bytes\": %llu, "
               "\"max_work_group_size\": %llu,\n     \"pref_vector_float\": %u, "
               "\"fp16\": %s, \"fp64\": %s, \"subgroups\": %s, \"subgroup_sizes\": [",
               x->compute_units, x->clock_mhz, (unsigned long long)x->global_mem_bytes,
               (unsigned long long)x->max_alloc_bytes, (unsigned long long)x->local_mem_bytes,
               (unsigned long long)x->max_work_group_size, x->pref_vector_float,
               x->fp16 ? "true" : "false", x->fp64 ? "true" : "false",
               x->subgroups ? "true" : "false");
        for (uint32_t s = 0; s < x->n_subgroup_sizes; s++)
            printf("%s%u", s ? ", " : "", x->subgroup_sizes[s]);
        printf("], \"unified_memory\": %s, \"available\": %s, \"score\": ",
               x->unified_memory ? "true" : "false", x->available ? "true" : "false");
        print_score_json(x->score);
        printf(", \"selected\": %s, \"best\": %s,\n     \"kernel_profile\": ",
               i == sel->index ? "true" : "false", i == best->index ? "true" : "false");
        print_profile_json(&prof[i]);
        printf("}");
    }
    printf("\n  ]\n}\n");
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
    if (st == CLF_OK) {
        if (json) print_json(devs, prof, n, &sel, &best);
        else print_table(devs, prof, n, &sel, &best);
    }
    free(prof);
    clf_devices_free(devs);
    if (st != CLF_OK) return cli_fail("devices", st, clf_context_last_error(NULL));
    return 0;
}
