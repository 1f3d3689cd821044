/* clformer devices: every OpenCL device, its capabilities, and the pick. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_devices_usage(FILE *out)
{
    fprintf(out, "usage: clformer devices [--device SPEC] [--json]\n\n"
                 "Lists every OpenCL device. The selected one (marked *) follows --device,\n"
                 "else $CLFORMER_DEVICE, else the best by class and compute units x clock.\n"
                 "  --device SPEC  best, gpu, dgpu, igpu, accelerator, cpu, P:D or a name\n"
                 "  --json         one JSON document on stdout\n");
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

static void print_json(const clf_device_info *d, const clf_kernel_profile *prof, size_t n,
                       size_t selected)
{
    printf("{\n  \"version\": ");
    cli_json_string(stdout, clf_version());
    printf(",\n  \"selected\": %zu,\n  \"devices\": [", selected);
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
        printf("], \"unified_memory\": %s, \"available\": %s, \"selected\": %s,\n     "
               "\"kernel_profile\": ",
               x->unified_memory ? "true" : "false", x->available ? "true" : "false",
               i == selected ? "true" : "false");
        print_profile_json(&prof[i]);
        printf("}");
    }
    printf("\n  ]\n}\n");
}

static void print_table(const clf_device_info *d, const clf_kernel_profile *prof, size_t n,
                        size_t selected)
{
    printf("  %-5s %-6s %-40s %-14s %4s %9s %5s %-12s %s\n", "index", "class", "name", "driver",
           "CUs", "memory", "fp16", "subgroups", "kernels");
    for (size_t i = 0; i < n; i++) {
        const clf_device_info *x = &d[i];
        char idx[16], sg[32] = "no";
        snprintf(idx, sizeof idx, "%d:%d", x->platform_index, x->device_index);
        if (x->subgroups || x->n_subgroup_sizes) {
            int used = snprintf(sg, sizeof sg, "%s", x->subgroups ? "yes" : "width");
            for (uint32_t s = 0; s < x->n_subgroup_sizes && used < (int)sizeof sg; s++)
                used += snprintf(sg + used, sizeof sg - (size_t)used, "%s%u", s ? "/" : " ",
                                 x->subgroup_sizes[s]);
        }
        printf("%c %-5s %-6s %-40.40s %-14.14s %4u %6.1f GiB %5s %-12s %s\n",
               i == selected ? '*' : ' ', idx, clf_device_class_name(x->device_class), x->name,
               x->driver_version, x->compute_units, (double)x->global_mem_bytes / (1 << 30),
               x->fp16 ? "yes" : "no", sg, clf_kernel_family_name(prof[i].family));
    }
    printf("(* = selected; override with --device or CLFORMER_DEVICE)\n");
}

int cli_devices(int argc, char **argv)
{
    const char *spec = getenv("CLFORMER_DEVICE");
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            spec = argv[++i];
        } else {
            fprintf(stderr, "clformer devices: unknown option \"%s\"\n", argv[i]);
            cli_devices_usage(stderr);
            return 2;
        }
    }
    clf_device_info *devs = NULL;
    size_t n = 0, selected = 0;
    clf_status st = clf_devices_list(&devs, &n);
    if (st != CLF_OK) return cli_fail("devices", st, clf_context_last_error(NULL));
    st = clf_device_select(devs, n, spec, &selected);
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
        if (json) print_json(devs, prof, n, selected);
        else print_table(devs, prof, n, selected);
    }
    free(prof);
    clf_devices_free(devs);
    if (st != CLF_OK) return cli_fail("devices", st, clf_context_last_error(NULL));
    return 0;
}
