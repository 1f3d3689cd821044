/*
 * Platform and device enumeration: reads every capability once, into plain
 * records (clf_device_info) that the rest of the library and the user can
 * inspect without OpenCL calls.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device_internal.h"

/* Extension queries for the SIMD width; asked only when the device lists the
 * extension, so no vendor name is involved. */
#define CLF__DEVICE_WARP_SIZE_NV 0x4003
#define CLF__DEVICE_WAVEFRONT_WIDTH_AMD 0x4043
#define CLF__DEVICE_SUB_GROUP_SIZES_INTEL 0x4108

static void str_info(cl_device_id d, cl_device_info what, char *out, size_t size)
{
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, size - 1, out, NULL) != CL_SUCCESS) out[0] = '\0';
    out[size - 1] = '\0';
}

static uint64_t uint_info(cl_device_id d, cl_device_info what, size_t width)
{
    unsigned char buf[8] = {0};
    if (clGetDeviceInfo(d, what, width, buf, NULL) != CL_SUCCESS) return 0;
    switch (width) {
    case 4: { cl_uint v; memcpy(&v, buf, 4); return v; }
    case 8: { cl_ulong v; memcpy(&v, buf, 8); return v; }
    default: { size_t v; memcpy(&v, buf, sizeof v); return v; }
    }
}

/* True when the space-separated extension list contains ext exactly. */
static int has_extension(const char *list, const char *ext)
{
    size_t n = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)) != NULL; p += n) {
        int starts = p == list || p[-1] == ' ';
        int ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends) return 1;
    }
    return 0;
}

static void fill_subgroups(cl_device_id d, const char *ext, clf_device_info *info)
{
    info->subgroups = has_extension(ext, "cl_khr_subgroups") ||
                      has_extension(ext, "cl_intel_subgroups");
    if (has_extension(ext, "cl_intel_required_subgroup_size")) {
        size_t sizes[CLF_MAX_SUBGROUP_SIZES], got = 0;
        if (clGetDeviceInfo(d, CLF__DEVICE_SUB_GROUP_SIZES_INTEL, sizeof sizes, sizes, &got) ==
            CL_SUCCESS) {
            for (size_t i = 0; i < got / sizeof(size_t) && i < CLF_MAX_SUBGROUP_SIZES; i++)
                info->subgroup_sizes[info->n_subgroup_sizes++] = (uint32_t)sizes[i];
        }
    } else if (has_extension(ext, "cl_nv_device_attribute_query")) {
        uint64_t w = uint_info(d, CLF__DEVICE_WARP_SIZE_NV, 4);
        if (w) info->subgroup_sizes[info->n_subgroup_sizes++] = (uint32_t)w;
    } else if (has_extension(ext, "cl_amd_device_attribute_query")) {
        uint64_t w = uint_info(d, CLF__DEVICE_WAVEFRONT_WIDTH_AMD, 4);
        if (w) info->subgroup_sizes[info->n_subgroup_sizes++] = (uint32_t)w;
    }
}

static clf_status fill_info(cl_platform_id p, cl_device_id d, clf_device_info *info)
{
    memset(info, 0, sizeof *info);
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name - 1,
                          info->platform_name, NULL) != CL_SUCCESS)
        info->platform_name[0] = '\0';
    if (clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version - 1,
                          info->platform_version, NULL) != CL_SUCCESS)
        info->platform_version[0] = '\0';
    str_info(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    str_info(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    str_info(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    str_info(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    str_info(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
             sizeof info->opencl_c_version);

    info->cl_type = uint_info(d, CL_DEVICE_TYPE, sizeof(cl_device_type));
    info->compute_units = (uint32_t)uint_info(d, CL_DEVICE_MAX_COMPUTE_UNITS, 4);
    info->clock_mhz = (uint32_t)uint_info(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, 4);
    info->global_mem_bytes = uint_info(d, CL_DEVICE_GLOBAL_MEM_SIZE, 8);
    info->max_alloc_bytes = uint_info(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, 8);
    info->local_mem_bytes = uint_info(d, CL_DEVICE_LOCAL_MEM_SIZE, 8);
    info->local_mem_dedicated =
        uint_info(d, CL_DEVICE_LOCAL_MEM_TYPE, sizeof(cl_device_local_mem_type)) == CL_LOCAL;
    info->max_work_group_size = uint_info(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(size_t));
    info->pref_vector_float = (uint32_t)uint_info(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, 4);
    info->pref_vector_half = (uint32_t)uint_info(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, 4);
    info->native_vector_float = (uint32_t)uint_info(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, 4);
    /* Deprecated in OpenCL 2.0 but answered by every driver we know; a driver
     * that refuses it reads as "not unified", i.e. a discrete GPU. */
    info->unified_memory = uint_info(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof(cl_bool)) != 0;
    info->available = uint_info(d, CL_DEVICE_AVAILABLE, sizeof(cl_bool)) != 0 &&
                      uint_info(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof(cl_bool)) != 0;

    size_t ext_size = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS && ext_size) {
        char *ext = clf__malloc(ext_size + 1);
        if (!ext) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device list: out of memory");
        if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_size, ext, NULL) != CL_SUCCESS)
            ext[0] = '\0';
        ext[ext_size] = '\0';
        info->fp16 = has_extension(ext, "cl_khr_fp16");
        info->fp64 = has_extension(ext, "cl_khr_fp64");
        info->int_dot8 = has_extension(ext, "cl_khr_integer_dot_product");
        fill_subgroups(d, ext, info);
        clf__free(ext);
    }
    if (!info->fp64) info->fp64 = uint_info(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(cl_ulong)) != 0;
    info->device_class = clf_device_classify(info);
    info->quirks = clf__device_quirks(info);
    return CLF_OK;
}

/* Every enumeration runs under this lock. Drivers are not safe to
 * initialise from two threads: two threads creating the first contexts of a
 * process crashed inside PoCL (a strlen, under this enumeration) in 10 runs
 * of 10, and plain platform and device queries from two threads crash the
 * same way. After
 * the first, an enumeration costs microseconds, so holding the lock for
 * every one (rather than only the first) costs nothing and also covers a
 * driver whose queries are unsafe for good. */
static pthread_mutex_t enumerate_lock = PTHREAD_MUTEX_INITIALIZER;

static clf_status enumerate_locked(clf__device_entry **out, size_t *count)
{
    cl_uint n_platforms = 0;
    cl_int err = clf__cl_fault() ? CL_OUT_OF_HOST_MEMORY : clGetPlatformIDs(0, NULL, &n_platforms);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && n_platforms == 0))
        return clf__error(NULL, CLF_ERR_NO_DEVICE,
                          "no OpenCL platform found: the ICD loader has no vendor driver "
                          "(check /etc/OpenCL/vendors or OCL_ICD_VENDORS; on a CPU-only "
                          "machine install pocl-opencl-icd)");
    if (err != CL_SUCCESS) return clf__cl_error(NULL, err, "clGetPlatformIDs");

    clf_status st = CLF_OK;
    clf__device_entry *entries = NULL;
    size_t n_entries = 0, cap = 0;
    cl_platform_id *platforms = clf__calloc(n_platforms, sizeof *platforms);
    if (!platforms) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device list: out of memory");
    err = clGetPlatformIDs(n_platforms, platforms, NULL);
    if (err != CL_SUCCESS) {
        st = clf__cl_error(NULL, err, "clGetPlatformIDs");
        goto done;
    }
    for (cl_uint p = 0; p < n_platforms && st == CLF_OK; p++) {
        cl_uint n_dev = 0;
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n_dev);
        if (err == CL_DEVICE_NOT_FOUND || n_dev == 0) continue; /* an empty platform is fine */
        if (err != CL_SUCCESS) {
            st = clf__cl_error(NULL, err, "clGetDeviceIDs");
            break;
        }
        cl_device_id *devs = clf__calloc(n_dev, sizeof *devs);
        if (!devs) {
            st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device list: out of memory");
            break;
        }
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n_dev, devs, NULL);
        if (err != CL_SUCCESS) st = clf__cl_error(NULL, err, "clGetDeviceIDs");
        for (cl_uint d = 0; d < n_dev && st == CLF_OK; d++) {
            if (n_entries == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                clf__device_entry *grown = clf__realloc(entries, ncap * sizeof *entries);
                if (!grown) {
                    st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device list: out of memory");
                    break;
                }
                entries = grown;
                cap = ncap;
            }
            clf__device_entry *e = &entries[n_entries];
            st = fill_info(platforms[p], devs[d], &e->info);
            if (st != CLF_OK) break;
            e->info.platform_index = (int)p;
            e->info.device_index = (int)d;
            e->platform = platforms[p];
            e->device = devs[d];
            n_entries++;
        }
        clf__free(devs);
    }
    if (st == CLF_OK && n_entries == 0)
        st = clf__error(NULL, CLF_ERR_NO_DEVICE,
                        "%u OpenCL platform(s) found but no device in any of them",
                        (unsigned)n_platforms);
done:
    clf__free(platforms);
    if (st != CLF_OK) {
        clf__free(entries);
        return st;
    }
    *out = entries;
    *count = n_entries;
    return CLF_OK;
}

clf_status clf__devices_enumerate(clf__device_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    clf__prepare_opencl_env();
    pthread_mutex_lock(&enumerate_lock);
    clf_status st = enumerate_locked(out, count);
    pthread_mutex_unlock(&enumerate_lock);
    return st;
}

clf_status clf_devices_list(clf_device_info **out, size_t *count)
{
    if (!out || !count) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_devices_list: NULL argument");
    *out = NULL;
    *count = 0;
    clf__device_entry *entries;
    size_t n;
    CLF_TRY(clf__devices_enumerate(&entries, &n));
    clf_device_info *infos = clf__calloc(n, sizeof *infos);
    if (!infos) {
        clf__free(entries);
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device list: out of memory");
    }
    for (size_t i = 0; i < n; i++) infos[i] = entries[i].info;
    clf__free(entries);
    *out = infos;
    *count = n;
    return CLF_OK;
}

void clf_devices_free(clf_device_info *devices) { clf__free(devices); }

/* Points PoCL's cache at <cache>/pocl, or leaves it alone when that
 * folder cannot serve (see clf__prepare_opencl_env). */
static void prepare_pocl_cache(void)
{
    /* PoCL reads POCL_CACHE_DIR when its platform initialises, i.e. at the
     * first clGetPlatformIDs, before we can tell which platforms exist; other
     * drivers ignore the variable. See the pocl-cache quirk. */
    if (getenv("POCL_CACHE_DIR")) return;
    char dir[4096], pocl[4200], why[512];
    if (clf__default_cache_dir(dir, sizeof dir) != CLF_OK) return;
    const char *bad = dir;
    clf__cache_dir_verdict v = clf__cache_dir_check(dir, why, sizeof why);
    if (v == CLF__CACHE_DIR_OK) {
        snprintf(pocl, sizeof pocl, "%s/pocl", dir);
        bad = pocl;
        v = clf__cache_dir_check(pocl, why, sizeof why);
    }
    if (v == CLF__CACHE_DIR_OK) {
        setenv("POCL_CACHE_DIR", pocl, 0);
        return;
    }
    /* PoCL pointed at a folder it cannot create finds no device at all, and
     * one that fills up aborts the process from inside LLVM. So a folder
     * that is not usable leaves PoCL its own default (~/.cache/pocl), and
     * one short of space also turns PoCL's cache off, so that PoCL does not
     * keep adding to a disk that is nearly full. */
    if (v == CLF__CACHE_DIR_LOW_SPACE) setenv("POCL_KERNEL_CACHE", "0", 0);
    clf__cache_warn(bad, why);
}

void clf__prepare_opencl_env(void)
{
    /* Once, and before any enumeration: setenv is not safe while another
     * thread reads the environment, and every entry point of the library
     * that reads it before a context exists comes through here first, so
     * within the library the write happens-before every read (threads that
     * arrive meanwhile wait in pthread_once). */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    clf__log_init(); /* reads CLFORMER_LOG before the setenv below */
    pthread_once(&once, prepare_pocl_cache);
}
