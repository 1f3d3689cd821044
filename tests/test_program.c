/* Device tests: program builds through the binary cache (hit, miss,
 * corrupted, truncated, foreign and driver-refused entries), build failures
 * with the compiler's log, and CLFORMER_KERNEL_DIR. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "runtime/runtime.h"

static char dir[512];
static char spec[32];

static void setup(void)
{
    char specs[16][32];
    clft_devices_or_skip(specs, 16);
    snprintf(spec, sizeof spec, "%s", specs[0]);
    clft_tempdir(dir, sizeof dir, "program");
}

static void teardown(void) { clft_rmtree(dir); }

TestSuite(program, .init = setup, .fini = teardown, .timeout = 600);

static int n_programs(void)
{
    int n = 0;
    for (size_t i = 0; i < clf__kernel_files_count; i++)
        n += !clf__kernel_files[i].part;
    return n;
}

static clf_build_stats build_all(void)
{
    clf_context *ctx = clft_context(spec, dir);
    clf_status st = clf_context_build_all(ctx);
    cr_assert_eq(st, CLF_OK, "%s", clf_context_last_error(ctx));
    cr_assert_eq(clf_context_selftest(ctx, NULL), CLF_OK, "%s", clf_context_last_error(ctx));
    clf_build_stats s;
    clf_context_build_stats(ctx, &s);
    clf_context_free(ctx);
    return s;
}

/* Applies f to every cache entry file. */
static int each_entry(void (*f)(const char *path))
{
    char kdir[600], path[1200];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    DIR *d = opendir(kdir);
    cr_assert_not_null(d, "no cache folder %s", kdir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".clbin")) continue;
        snprintf(path, sizeof path, "%s/%s", kdir, e->d_name);
        f(path);
        n++;
    }
    closedir(d);
    return n;
}

static void no_op(const char *path) { (void)path; }

Test(program, cold_build_fills_the_cache_and_warm_build_hits_it)
{
    int n = n_programs();
    clf_build_stats cold = build_all();
    cr_assert_eq(cold.built, n, "cold: every program compiled");
    cr_assert_eq(cold.cache_hits, 0);
    cr_assert_eq(cold.cache_writes, n);
    cr_assert_eq(each_entry(no_op), n);
    clf_build_stats warm = build_all();
    cr_assert_eq(warm.built, 0, "warm: nothing compiled");
    cr_assert_eq(warm.cache_hits, n);
    cr_assert_eq(warm.cache_rejected, 0);
    cr_assert_lt(warm.seconds, cold.seconds, "warm %.3fs vs cold %.3fs", warm.seconds,
                 cold.seconds);
}

static void corrupt(const char *path)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, -5, SEEK_END);
    int c = fgetc(f);
    fseek(f, -5, SEEK_END);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void truncate_entry(const char *path)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(path, n / 2), 0);
}

static void expect_rebuild_after(void (*damage)(const char *), const char *what)
{
    int n = n_programs();
    build_all();
    cr_assert_eq(each_entry(damage), n);
    clf_build_stats s = build_all();
    cr_assert_eq(s.cache_rejected, n, "%s entries are rejected", what);
    cr_assert_eq(s.built, n, "%s entries are rebuilt", what);
    cr_assert_eq(s.cache_writes, n, "%s entries are replaced", what);
    s = build_all();
    cr_assert_eq(s.cache_hits, n, "the replaced %s entries are good", what);
}

Test(program, corrupted_entry_is_a_miss_and_is_replaced) { expect_rebuild_after(corrupt, "corrupted"); }
Test(program, truncated_entry_is_a_miss_and_is_replaced) { expect_rebuild_after(truncate_entry, "truncated"); }

Test(program, foreign_device_entry_is_a_miss)
{
    clf_context *ctx = clft_context(spec, dir);
    char *src;
    size_t size;
    cr_assert_eq(clf__program_source(ctx, "smoke", &src, &size), CLF_OK);
    char full[1024];
    snprintf(full, sizeof full, "%s", ctx->base_options);
    unsigned char mine[32], foreign[32];
    cr_assert_eq(clf__cache_key(ctx, src, size, full, mine), CLF_OK);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", ctx->info.name);
    snprintf(ctx->info.name, sizeof ctx->info.name, "A Foreign GPU 9000");
    cr_assert_eq(clf__cache_key(ctx, src, size, full, foreign), CLF_OK);
    /* A real binary of ours stored as if from the foreign device... */
    cl_program prog;
    cr_assert_eq(clf__program_build_source(ctx, "smoke", src, size, NULL, &prog), CLF_OK);
    size_t bin_size;
    clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_size, &bin_size, NULL);
    unsigned char *bin = malloc(bin_size), *bins[] = {bin};
    clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL);
    clReleaseProgram(prog);
    cr_assert_eq(clf__cache_store(ctx, foreign, bin, bin_size), 0);
    free(bin);
    snprintf(ctx->info.name, sizeof ctx->info.name, "%s", saved);
    /* ...then placed where this device's entry lives. */
    char from[4200], to[4200];
    clf__cache_entry_path(ctx, foreign, from, sizeof from);
    clf__cache_entry_path(ctx, mine, to, sizeof to);
    cr_assert_eq(rename(from, to), 0);
    clf_build_stats before;
    clf_context_build_stats(ctx, &before);
    cr_assert_eq(clf__program_build_source(ctx, "smoke", src, size, NULL, &prog), CLF_OK);
    clReleaseProgram(prog);
    clf_build_stats after;
    clf_context_build_stats(ctx, &after);
    cr_assert_eq(after.cache_rejected - before.cache_rejected, 1, "the foreign entry is rejected");
    cr_assert_eq(after.built - before.built, 1, "and the program rebuilt");
    cr_assert_eq(after.cache_hits - before.cache_hits, 0);
    clf__free(src);
    clf_context_free(ctx);
}

Test(program, entry_the_driver_refuses_is_a_miss)
{
    /* Right key, valid envelope, garbage binary: the driver must refuse it
     * and we must rebuild, not crash. */
    clf_context *ctx = clft_context(spec, dir);
    char *src;
    size_t size;
    cr_assert_eq(clf__program_source(ctx, "smoke", &src, &size), CLF_OK);
    unsigned char key[32];
    cr_assert_eq(clf__cache_key(ctx, src, size, ctx->base_options, key), CLF_OK);
    static const unsigned char garbage[] = "\x7f" "ELF this is not a program binary at all";
    cr_assert_eq(clf__cache_store(ctx, key, garbage, sizeof garbage), 0);
    cl_program prog;
    cr_assert_eq(clf__program_build_source(ctx, "smoke", src, size, NULL, &prog), CLF_OK,
                 "%s", clf_context_last_error(ctx));
    clReleaseProgram(prog);
    clf_build_stats s;
    clf_context_build_stats(ctx, &s);
    cr_assert_eq(s.cache_rejected, 1);
    cr_assert_eq(s.built, 1);
    clf__free(src);
    clf_context_free(ctx);
}

Test(program, syntax_error_is_build_error_with_the_log)
{
    clf_context *ctx = clft_context(spec, dir);
    static const char bad[] =
        "__kernel void broken(__global float *x) {\n  x[0] = 1.0f +;\n  undeclared_thing = 2;\n}\n";
    cl_program prog = (cl_program)0x1;
    clf_status st = clf__program_build_source(ctx, "broken_test", bad, sizeof bad - 1, NULL, &prog);
    cr_assert_eq(st, CLF_ERR_BUILD, "got %s", clf_status_name(st));
    cr_assert_null(prog);
    const char *msg = clf_context_last_error(ctx);
    cr_assert(strstr(msg, "broken_test"), "names the program: %s", msg);
    cr_assert(strstr(msg, "build log"), "carries the log: %s", msg);
    cr_assert(strstr(msg, "error"), "the log has the compiler's error: %s", msg);
    cr_assert(strstr(msg, "CL_BUILD_PROGRAM_FAILURE"), "names the OpenCL error: %s", msg);
    clf_build_stats s;
    clf_context_build_stats(ctx, &s);
    cr_assert_eq(s.cache_writes, 0, "a failed build writes nothing");
    clf_context_free(ctx);
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fwrite(text, 1, n, f);
    fclose(f);
}

/* Writes n bytes of text as <kdir>/<name>.cl. */
static void write_kernel(const char *kdir, const char *name, const char *text, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.cl", kdir, name);
    write_file(path, text, n);
}

/* write_kernel of a NUL-terminated text. */
static void put_kernel(const char *kdir, const char *name, const char *text)
{
    write_kernel(kdir, name, text, strlen(text));
}

/* Makes <dir>/<sub> (into kdir), copies every embedded kernel into it, as a
 * developer's checkout would, and points CLFORMER_KERNEL_DIR at it. */
static void kernel_dir(char *kdir, size_t cap, const char *sub)
{
    snprintf(kdir, cap, "%s/%s", dir, sub);
    cr_assert_eq(clf__mkdirs(kdir), 0);
    for (size_t i = 0; i < clf__kernel_files_count; i++)
        write_kernel(kdir, clf__kernel_files[i].name, (const char *)clf__kernel_files[i].data,
                     clf__kernel_files[i].size);
    setenv("CLFORMER_KERNEL_DIR", kdir, 1);
}

Test(program, kernel_dir_overrides_the_embedded_sources)
{
    char kdir[600];
    kernel_dir(kdir, sizeof kdir, "src");
    clf_build_stats s = build_all();
    cr_assert_eq(s.built, n_programs());

    /* A broken file on disk is what gets built, and its log is reported. */
    put_kernel(kdir, "smoke", "__kernel void smoke_axpy(int n) { n = ; }\n");
    clf_context *ctx = clft_context(spec, dir);
    clf_status st = clf_context_build_all(ctx);
    cr_assert_eq(st, CLF_ERR_BUILD);
    cr_assert(strstr(clf_context_last_error(ctx), "smoke"), "%s", clf_context_last_error(ctx));
    clf_context_free(ctx);

    /* A missing file is an I/O error naming the path. */
    char path[700];
    snprintf(path, sizeof path, "%s/smoke.cl", kdir);
    remove(path);
    ctx = clft_context(spec, dir);
    cl_program prog;
    cr_assert_eq(clf__program_get(ctx, "smoke", NULL, &prog), CLF_ERR_IO);
    cr_assert(strstr(clf_context_last_error(ctx), "smoke.cl"), "%s", clf_context_last_error(ctx));
    clf_context_free(ctx);
    unsetenv("CLFORMER_KERNEL_DIR");
}

/* Getting kernel inc_k of program inc_prog fails with status st and a last
 * error that contains what. */
static void expect_inc_failure(clf_status st, const char *what)
{
    clf_context *ctx = clft_context(spec, dir);
    cl_kernel k;
    cr_assert_eq(clf__kernel_get(ctx, "inc_prog", NULL, "inc_k", &k), st, "%s",
                 clf_context_last_error(ctx));
    cr_assert_not_null(strstr(clf_context_last_error(ctx), what), "no \"%s\" in: %s", what,
                       clf_context_last_error(ctx));
    clf_context_free(ctx);
}

/* `#include "X.cl"` splices kernel file X in (from the same place as the
 * program: here a CLFORMER_KERNEL_DIR), and #line directives keep a build
 * log's file and line true on both sides of it; deeper nesting than
 * CLF__INCLUDE_DEPTH is refused, naming the file. */
Test(program, includes_splice_kernel_files_and_logs_name_the_file_and_line)
{
    char kdir[600];
    kernel_dir(kdir, sizeof kdir, "inc");

    /* A part with a helper, a program that includes it and uses it. */
    static const char part[] = "inline float twice(float x) { return 2.0f * x; }\n";
    put_kernel(kdir, "inc_part", part);
    put_kernel(kdir, "inc_prog",
               "/* a program */\n#include \"inc_part.cl\"\n"
               "__kernel void inc_k(__global float *y) { y[0] = twice(y[0]); }\n");
    clf_context *ctx = clft_context(spec, dir);
    cl_kernel k;
    cr_assert_eq(clf__kernel_get(ctx, "inc_prog", NULL, "inc_k", &k), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    char *src = NULL;
    size_t n = 0;
    cr_assert_eq(clf__program_source(ctx, "inc_prog", &src, &n), CLF_OK);
    cr_assert_not_null(strstr(src, "#line 1 \"inc_part.cl\"\ninline float twice"), "%s", src);
    cr_assert_not_null(strstr(src, "#line 3 \"inc_prog.cl\"\n__kernel void inc_k"), "%s", src);
    cr_assert_null(strstr(src, "#include"), "%s", src);
    clf__free(src);
    clf_context_free(ctx);

    /* An error in the part, and one in the program after the include: each
     * log line names its own file and line. */
    put_kernel(kdir, "inc_part", "\ninline float twice(float x) { return 2.0f * ; }\n");
    expect_inc_failure(CLF_ERR_BUILD, "inc_part.cl:2:");
    put_kernel(kdir, "inc_part", part);
    put_kernel(kdir, "inc_prog",
               "#include \"inc_part.cl\"\n\n__kernel void inc_k(__global float *y) { y[0] = ; }\n");
    expect_inc_failure(CLF_ERR_BUILD, "inc_prog.cl:3:");

    /* inc_prog -> inc_a -> inc_b -> inc_part: one level too deep. */
    put_kernel(kdir, "inc_prog", "#include \"inc_a.cl\"\n");
    put_kernel(kdir, "inc_a", "#include \"inc_b.cl\"\n");
    put_kernel(kdir, "inc_b", "#include \"inc_part.cl\"\n");
    expect_inc_failure(CLF_ERR_BUILD, "inc_b.cl line 1: #include \"inc_part.cl\" nests deeper");

    /* A missing part is an I/O error naming its path. */
    char path[700];
    snprintf(path, sizeof path, "%s/inc_a.cl", kdir);
    remove(path);
    expect_inc_failure(CLF_ERR_IO, "inc_a.cl");
    unsetenv("CLFORMER_KERNEL_DIR");
}

/* The embedded table: the builtin GEMM kernels are programs that include
 * their shared part, which is no program of its own. */
Test(program, shared_parts_are_marked_and_not_built_alone)
{
    int seen = 0;
    for (size_t i = 0; i < clf__kernel_files_count; i++) {
        const clf__kernel_file *f = &clf__kernel_files[i];
        bool shared = strcmp(f->name, "gemm_common") == 0 || strcmp(f->name, CLF__PRELUDE_NAME) == 0;
        bool prog = strcmp(f->name, "gemm_reg") == 0 || strcmp(f->name, "gemv") == 0 ||
                    strcmp(f->name, "gemm_tiled") == 0;
        if (shared || prog) {
            cr_assert_eq(f->part, shared, "%s", f->name);
            seen++;
        }
    }
    cr_assert_eq(seen, 5);
    clf_context *ctx = clft_context(spec, "");
    char *src = NULL;
    size_t n = 0;
    cr_assert_eq(clf__program_source(ctx, "gemv", &src, &n), CLF_OK, "%s", clf_context_last_error(ctx));
    cr_assert_not_null(strstr(src, "#line 1 \"gemm_common.cl\""));
    cr_assert_not_null(strstr(src, "__kernel void clf_gemv("));
    clf__free(src);
    cr_assert_eq(clf_context_build_all(ctx), CLF_OK, "%s", clf_context_last_error(ctx));
    for (size_t i = 0; i < ctx->n_programs; i++)
        cr_assert_str_neq(ctx->programs[i].name, "gemm_common");
    clf_context_free(ctx);
}

Test(program, unknown_programs_and_kernels_are_not_found)
{
    clf_context *ctx = clft_context(spec, "");
    cl_kernel k;
    cr_assert_eq(clf__kernel_get(ctx, "no_such_program", NULL, "x", &k), CLF_ERR_NOT_FOUND);
    cr_assert_eq(clf__kernel_get(ctx, "smoke", NULL, "no_such_kernel", &k), CLF_ERR_NOT_FOUND);
    cr_assert(strstr(clf_context_last_error(ctx), "no_such_kernel"));
    cr_assert_eq(clf__kernel_get(ctx, "smoke", NULL, "smoke_axpy", &k), CLF_OK);
    cl_kernel again;
    cr_assert_eq(clf__kernel_get(ctx, "smoke", NULL, "smoke_axpy", &again), CLF_OK);
    cr_assert_eq(k, again, "kernels are created once per context");
    clf_context_free(ctx);
}

/* Every kernel file compiles without a warning at its default options (the
 * compiler's warnings end up on the user's stderr with some drivers, PoCL
 * among them). A fresh define in the options keeps the driver's own cache
 * from answering with an empty log. */
Test(program, every_kernel_file_compiles_without_warnings)
{
    clf_context *ctx = clft_context(spec, "");
    char opt[64];
    snprintf(opt, sizeof opt, "-DCLF_LOG_PROBE=%llu", (unsigned long long)clft_seed());
    int checked = 0;
    for (size_t i = 0; i < clf__kernel_files_count; i++) {
        const char *name = clf__kernel_files[i].name;
        if (clf__kernel_files[i].part) continue;
        cl_program prog;
        cr_assert_eq(clf__program_get(ctx, name, opt, &prog), CLF_OK, "%s: %s", name,
                     clf_context_last_error(ctx));
        char log[16384] = "";
        clGetProgramBuildInfo(prog, ctx->device,
                              CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        cr_assert_null(strstr(log, "warning"), "%s.cl: the build log has a warning:\n%s", name, log);
        checked++;
    }
    cr_assert_gt(checked, 8, "only %d kernel files", checked);
    clf_context_free(ctx);
}
