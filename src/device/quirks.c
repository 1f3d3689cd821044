/*
 * The one table of vendor and driver quirks. Classification and selection
 * never look at names; only the workarounds below do, and each says why.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "device/device_internal.h"

typedef struct quirk {
    const char *platform_substr; /* matched case-insensitively against the platform name */
    const char *device_substr;   /* and/or the device name; NULL = any */
    uint32_t bits;
    const char *name;
    const char *reason;
} quirk;

static const quirk quirk_table[] = {
    {"Portable Computing Language", NULL, CLF_QUIRK_POCL, "pocl-cache",
     "PoCL keeps a second, private cache of compiled kernels in ~/.cache/pocl that any other "
     "PoCL program can evict; we point POCL_CACHE_DIR into our own cache folder, and PoCL "
     "compiles each kernel lazily at its first launch, so warm-up matters before timing."},
    {"Portable Computing Language", NULL, CLF_QUIRK_HALF8_ALIGN, "half8-align",
     "PoCL 3.1's vload_halfN / vstore_halfN on global memory fault on addresses that are not "
     "N*2-byte aligned (the spec asks for 2): f16 tensors at odd element offsets crashed the "
     "GPU-family elementwise kernels. The kernels move the bits as an unaligned ushortN and "
     "convert in private memory (CLF_HALF_UNALIGNED; compiles to F16C on x86)."},
};

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

uint32_t clf__device_quirks(const clf_device_info *info)
{
    uint32_t bits = 0;
    for (size_t i = 0; i < CLF_ARRAY_LEN(quirk_table); i++) {
        const quirk *q = &quirk_table[i];
        if (q->platform_substr && !contains_ci(info->platform_name, q->platform_substr)) continue;
        if (q->device_substr && !contains_ci(info->name, q->device_substr)) continue;
        bits |= q->bits;
    }
    return bits;
}

const char *clf__quirk_names(uint32_t bits, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < CLF_ARRAY_LEN(quirk_table) && used < size; i++) {
        if (!(bits & quirk_table[i].bits)) continue;
        int w = snprintf(buf + used, size - used, "%s%s", used ? "," : "", quirk_table[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}
