/* Host tests: status codes, their texts, and OpenCL error names. */
#include <criterion/criterion.h>
#include <string.h>

#include <clformer/clformer.h>

#include "core/core.h"

Test(status, every_code_has_a_distinct_name_and_text)
{
    static const clf_status all[] = {
#define X(name, value, text) name,
        CLF_STATUS_LIST(X)
#undef X
    };
    size_t n = sizeof all / sizeof all[0];
    cr_assert_geq(n, 10);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_neq(clf_status_str(all[i]), "unknown status", "code %d", all[i]);
        for (size_t j = i + 1; j < n; j++) {
            cr_assert_neq(all[i], all[j]);
            cr_assert_str_neq(clf_status_name(all[i]), clf_status_name(all[j]));
        }
    }
    cr_assert_str_eq(clf_status_name(CLF_ERR_BUILD), "CLF_ERR_BUILD");
    cr_assert_str_eq(clf_status_str((clf_status)12345), "unknown status");
    cr_assert_eq(CLF_OK, 0);
}

Test(status, opencl_errors_are_named_not_numbered)
{
    cr_assert_str_eq(clf__cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    cr_assert_str_eq(clf__cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    cr_assert_str_eq(clf__cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    cr_assert_str_eq(clf__cl_error_name(-9999), "CL_UNKNOWN_ERROR");
}

Test(status, opencl_allocation_failures_map_to_device_memory)
{
    clf_status st = clf__cl_error(NULL, CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer(64 MiB)");
    cr_assert_eq(st, CLF_ERR_DEVICE_MEMORY);
    const char *msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "CL_MEM_OBJECT_ALLOCATION_FAILURE") && strstr(msg, "clCreateBuffer"),
              "message: %s", msg);
    cr_assert_eq(clf__cl_error(NULL, CL_INVALID_KERNEL_ARGS, "enqueue"), CLF_ERR_OPENCL);
}

Test(alloc, nth_allocation_fails_and_live_count_tracks_blocks)
{
    long base = clf__alloc_live();
    void *a = clf__malloc(16);
    cr_assert_not_null(a);
    cr_assert_eq(clf__alloc_live(), base + 1);
    clf__alloc_fail_at(2);
    void *b = clf__malloc(16);
    void *c = clf__malloc(16);
    void *d = clf__malloc(16);
    cr_assert_not_null(b);
    cr_assert_null(c, "the second allocation after arming must fail");
    cr_assert_not_null(d, "only one allocation fails");
    clf__free(a);
    clf__free(b);
    clf__free(d);
    clf__free(NULL);
    cr_assert_eq(clf__alloc_live(), base);
}
