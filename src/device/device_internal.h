/* Internal device layer: enumeration with the OpenCL handles, and quirks. */
#ifndef CLF_DEVICE_INTERNAL_H
#define CLF_DEVICE_INTERNAL_H

#include <stdbool.h>

#include "core/core.h"
#include <clformer/device.h>

/* One enumerated device with the handles needed to open it. */
typedef struct clf__device_entry {
    clf_device_info info;
    cl_platform_id platform;
    cl_device_id device;
} clf__device_entry;

/* Enumerates every platform and device. On success *out (free with
 * clf__free) holds *count >= 1 entries. Errors go to the thread's last error.
 * Thread-safe: enumerations are serialised (drivers crash when initialised
 * from two threads), after clf__prepare_opencl_env. */
clf_status clf__devices_enumerate(clf__device_entry **out, size_t *count);

/* True when spec leaves the choice to the library: NULL, "", "best", "gpu"
 * or a class word; false for "P:D" and a name substring, which name the
 * device themselves. Only the former are worth measuring devices for. */
bool clf__device_spec_ranks(const char *spec);

/* Quirk bits; the table and the reason for each live in quirks.c. */
enum {
    CLF_QUIRK_POCL = 1u << 0,        /* PoCL: keeps its own kernel cache */
    CLF_QUIRK_HALF8_ALIGN = 1u << 1, /* vload_halfN/vstore_halfN need N*2-byte alignment */
};

/* Quirk bits that apply to a device record. */
uint32_t clf__device_quirks(const clf_device_info *info);

/* A one-line description of the quirks in bits, for logs ("pocl-cache"). */
const char *clf__quirk_names(uint32_t bits, char *buf, size_t size);

/* The most work-items per group the limits allow any kernel before it is
 * built: the device's maximum, or the simulated per-kernel cap if lower. */
uint64_t clf__limits_group_max(const clf_device_limits *l);

/* The GPU GEMM's tile table (src/device/profile.c), largest first: tile i
 * as {TM, TN, TK, WM, WN}, and whether it fits max_items work-items and
 * local_bytes of local memory. Ops walk down it when a kernel's own
 * work-group limit is below the profile's pick. */
int clf__gemm_tile_count(void);
int clf__gemm_tile_fits(int i, uint64_t max_items, uint64_t local_bytes);
void clf__gemm_tile(int i, int out[5]);

/* The profile's integer fields by name (src/device/profile_fields.c): the
 * autotuner's registry and its stored results name them so. */
typedef struct clf__profile_field {
    const char *name; /* the struct member's name */
    size_t offset;    /* offsetof(clf_kernel_profile, member); the member is an int */
} clf__profile_field;

int clf__profile_field_count(void);
const clf__profile_field *clf__profile_field_at(int i);
const clf__profile_field *clf__profile_field_find(const char *name);
int *clf__profile_field_ptr(clf_kernel_profile *p, const clf__profile_field *f);

/* The process-wide first-time work, done once (pthread_once; later calls
 * return at once, concurrent first calls wait for the first): when
 * POCL_CACHE_DIR is unset, point it at <cache>/pocl so other programs cannot
 * evict PoCL's entries, provided clf__cache_dir_check passes that folder;
 * otherwise leave PoCL its own default (and, when the disk is nearly full,
 * set POCL_KERNEL_CACHE=0) and warn once. Every public call that may come
 * before the first context and reads the environment calls this first, so
 * its setenv never races with the library's own getenv. */
void clf__prepare_opencl_env(void);

#endif
