/*
 * Programs: the embedded kernel sources compiled for the device in hand,
 * once per context and option set, through the binary cache.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static const clf__kernel_file *find_embedded(const char *name)
{
    for (size_t i = 0; i < clf__kernel_files_count; i++)
        if (strcmp(clf__kernel_files[i].name, name) == 0) return &clf__kernel_files[i];
    return NULL;
}

/* Reads <dir>/<name>.cl into a new buffer. */
static clf_status read_disk_source(clf_context *ctx, const char *dir, const char *name,
                                   char **text, size_t *size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.cl", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return clf__error(ctx, CLF_ERR_IO, "kernel source %s (CLFORMER_KERNEL_DIR): cannot open",
                          path);
    clf_status st = CLF_OK;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = clf__error(ctx, CLF_ERR_IO, "kernel source %s: cannot read", path);
    } else if (!(buf = clf__malloc((size_t)n + 1))) {
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "kernel source %s: out of memory", path);
    } else if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        st = clf__error(ctx, CLF_ERR_IO, "kernel source %s: short read", path);
        clf__free(buf);
        buf = NULL;
    }
    fclose(f);
    if (st != CLF_OK) return st;
    buf[n] = '\0';
    *text = buf;
    *size = (size_t)n;
    return CLF_OK;
}

/* The text of one kernel file, from disk or the embedded table. */
static clf_status file_text(clf_context *ctx, const char *name, char **text, size_t *size)
{
    const char *dir = getenv("CLFORMER_KERNEL_DIR");
    if (dir && *dir) return read_disk_source(ctx, dir, name, text, size);
    const clf__kernel_file *f = find_embedded(name);
    if (!f) return clf__error(ctx, CLF_ERR_NOT_FOUND, "no kernel program named \"%s\"", name);
    char *buf = clf__malloc(f->size + 1);
    if (!buf) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "kernel %s: out of memory", name);
    memcpy(buf, f->data, f->size);
    buf[f->size] = '\0';
    *text = buf;
    *size = f->size;
    return CLF_OK;
}

/* A growing source text. */
typedef struct source_buf {
    char *p;
    size_t n, cap;
} source_buf;

static clf_status buf_put(clf_context *ctx, source_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap) cap *= 2;
        char *grown = clf__realloc(b->p, cap);
        if (!grown) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "kernel source: out of memory");
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return CLF_OK;
}

/* 1 if [line, end) is `#include "X.cl"` (blanks allowed around '#'), with X,
 * letters, digits and '_' only, copied to name. Any other #include is left to
 * the compiler (which then reports it). */
static int include_name(const char *line, const char *end, char *name, size_t cap)
{
    const char *p = line;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end || *p++ != '#') return 0;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if ((size_t)(end - p) < 8 || memcmp(p, "include", 7) != 0) return 0;
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end || *p++ != '"') return 0;
    size_t n = 0;
    while (p + n < end && (isalnum((unsigned char)p[n]) || p[n] == '_')) n++;
    if (n == 0 || n >= cap || (size_t)(end - p - n) < 4 || memcmp(p + n, ".cl\"", 4) != 0) return 0;
    memcpy(name, p, n);
    name[n] = '\0';
    return 1;
}

/* Appends kernel file `name` to b, each `#include "X.cl"` line replaced by X's
 * text (itself expanded, depth + 1) between #line directives. */
static clf_status append_file(clf_context *ctx, source_buf *b, const char *name, int depth)
{
    char *text = NULL;
    size_t size = 0;
    CLF_TRY(file_text(ctx, name, &text, &size));
    clf_status st = CLF_OK;
    const char *line = text, *end = text + size;
    for (int lineno = 1; st == CLF_OK && line < end; lineno++) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *next = nl ? nl + 1 : end;
        char inc[128], mark[300];
        if (!include_name(line, next, inc, sizeof inc)) {
            st = buf_put(ctx, b, line, (size_t)(next - line));
        } else if (depth >= CLF__INCLUDE_DEPTH) {
            st = clf__error(ctx, CLF_ERR_BUILD,
                            "kernel source %s.cl line %d: #include \"%s.cl\" nests deeper than %d",
                            name, lineno, inc, CLF__INCLUDE_DEPTH);
        } else {
            int n = snprintf(mark, sizeof mark, "#line 1 \"%s.cl\"\n", inc);
            st = buf_put(ctx, b, mark, (size_t)n);
            if (st == CLF_OK) st = append_file(ctx, b, inc, depth + 1);
            n = snprintf(mark, sizeof mark, "\n#line %d \"%s.cl\"\n", lineno + 1, name);
            if (st == CLF_OK) st = buf_put(ctx, b, mark, (size_t)n);
        }
        line = next;
    }
    clf__free(text);
    return st;
}

clf_status clf__program_source(clf_context *ctx, const char *name, char **text, size_t *size)
{
    source_buf b = {0};
    clf_status st = append_file(ctx, &b, CLF__PRELUDE_NAME, 0);
    if (st == CLF_OK && strcmp(name, CLF__PRELUDE_NAME) != 0) {
        /* "#line 1" restarts numbering so build logs point into the file. */
        static const char line_reset[] = "\n#line 1\n";
        st = buf_put(ctx, &b, line_reset, sizeof line_reset - 1);
        if (st == CLF_OK) st = append_file(ctx, &b, name, 0);
    }
    if (st != CLF_OK) {
        clf__free(b.p);
        return st;
    }
    *text = b.p;
    *size = b.n;
    return CLF_OK;
}

/* Records the compiler's log as the last error, and logs it as an error. */
static clf_status build_failure(clf_context *ctx, cl_program prog, cl_int err, const char *label,
                                const char *options)
{
    size_t log_size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) ==
            CL_SUCCESS &&
        log_size > 0 && (log = clf__malloc(log_size + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) !=
            CL_SUCCESS)
            log[0] = '\0';
        log[log_size] = '\0';
    }
    clf_status st = clf__error(ctx, CLF_ERR_BUILD,
                               "kernel build failed: program \"%s\" on \"%s\" with options "
                               "\"%s\": %s (%d)\nbuild log:\n%s",
                               label, ctx->info.name, options, clf__cl_error_name(err), (int)err,
                               log && *log ? log : "(empty)");
    clf__free(log);
    /* The status and last error tell the caller; this tells whoever reads
     * the log, as the caller may well only say "build failed". */
    clf__log(CLF_LOG_ERROR, "%s", clf_context_last_error(ctx));
    return st;
}

/* A debug line on what the disk cache did for program label: entry path and
 * the outcome. Built only when debug messages are on. */
static void log_cache(const clf_context *ctx, const unsigned char *key, const char *label,
                      const char *what, size_t bytes)
{
    if (!clf__log_enabled(CLF_LOG_DEBUG)) return;
    char path[4200];
    if (clf__cache_entry_path(ctx, key, path, sizeof path) != CLF_OK)
        snprintf(path, sizeof path, "?");
    char size[48] = "";
    if (bytes) snprintf(size, sizeof size, ", %zu bytes", bytes);
    clf__log(CLF_LOG_DEBUG, "disk cache: program %s: %s (%s%s)", label, what, path, size);
}

/* Tries the cache entry; on a hit *out is a built program. */
static int load_cached(clf_context *ctx, const unsigned char *key, const char *label,
                       const char *options, cl_program *out)
{
    unsigned char *bin = NULL;
    size_t size = 0;
    clf__cache_result r = clf__cache_load(ctx, key, &bin, &size);
    if (r == CLF__CACHE_REJECTED) ctx->stats.cache_rejected++;
    static const char *const outcome[] = {
        [CLF__CACHE_HIT] = "hit",
        [CLF__CACHE_ABSENT] = "miss",
        [CLF__CACHE_REJECTED] = "entry truncated, corrupted or for another key: rebuilding",
    };
    log_cache(ctx, key, label, outcome[r], size);
    if (r != CLF__CACHE_HIT) return 0;
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    const unsigned char *bins[] = {bin};
    cl_program prog = clf__cl_fault() ? (err = CL_OUT_OF_HOST_MEMORY, NULL)
                                      : clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size,
                                                                  bins, &bin_status, &err);
    clf__free(bin);
    if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
        err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
        /* The driver refused a binary that passed our checks (a driver
         * update with the same version string, say): rebuild and replace. */
        if (prog) clReleaseProgram(prog);
        ctx->stats.cache_rejected++;
        log_cache(ctx, key, label, "entry refused by the driver: rebuilding", size);
        return 0;
    }
    *out = prog;
    ctx->stats.cache_hits++;
    return 1;
}

static void store_binary(clf_context *ctx, const unsigned char *key, const char *label,
                         cl_program prog)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = clf__malloc(size);
    if (!bin) return;
    unsigned char *bins[] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
        clf__cache_store(ctx, key, bin, size) == 0) {
        ctx->stats.cache_writes++;
        log_cache(ctx, key, label, "written", size);
    } else {
        log_cache(ctx, key, label, "not written", size);
    }
    clf__free(bin);
}

static void log_build(const char *label, const char *how, const char *options, double seconds)
{
    clf__log(CLF_LOG_INFO, "program %s %s in %.3f s [%s]", label, how, seconds,
             options && *options ? options : "");
}

clf_status clf__program_build_source(clf_context *ctx, const char *label, const char *src,
                                     size_t size, const char *options, cl_program *out)
{
    *out = NULL;
    double t0 = clf__now();
    char full[2048];
    int w = snprintf(full, sizeof full, "%s%s%s", ctx->base_options, options && *options ? " " : "",
                     options ? options : "");
    if (w < 0 || (size_t)w >= sizeof full)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "program %s: build options too long", label);

    unsigned char key[CLF__CACHE_KEY_BYTES];
    int cache_on = ctx->cache_dir != NULL;
    if (cache_on) CLF_TRY(clf__cache_key(ctx, src, size, full, key));
    if (cache_on && load_cached(ctx, key, label, full, out)) {
        ctx->stats.programs++;
        ctx->stats.seconds += clf__now() - t0;
        log_build(label, "loaded from the cache", options, clf__now() - t0);
        return CLF_OK;
    }

    cl_int err = CL_SUCCESS;
    const char *srcs[] = {src};
    cl_program prog = clf__cl_fault() ? (err = CL_OUT_OF_HOST_MEMORY, NULL)
                                      : clCreateProgramWithSource(ctx->cl, 1, srcs, &size, &err);
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "clCreateProgramWithSource");
    err = clBuildProgram(prog, 1, &ctx->device, full, NULL, NULL);
    if (err != CL_SUCCESS) {
        clf_status st = build_failure(ctx, prog, err, label, full);
        clReleaseProgram(prog);
        return st;
    }
    ctx->stats.built++;
    if (cache_on) store_binary(ctx, key, label, prog);
    ctx->stats.programs++;
    ctx->stats.seconds += clf__now() - t0;
    log_build(label, "compiled", options, clf__now() - t0);
    *out = prog;
    return CLF_OK;
}

static clf__program_slot *find_slot(clf_context *ctx, const char *name, const char *options)
{
    for (size_t i = 0; i < ctx->n_programs; i++) {
        clf__program_slot *s = &ctx->programs[i];
        if (strcmp(s->name, name) == 0 && strcmp(s->options, options) == 0) return s;
    }
    return NULL;
}

static clf_status add_slot(clf_context *ctx, const char *name, const char *options,
                           cl_program prog, clf__program_slot **out)
{
    if (ctx->n_programs == ctx->cap_programs) {
        size_t cap = ctx->cap_programs ? ctx->cap_programs * 2 : 16;
        clf__program_slot *grown = clf__realloc(ctx->programs, cap * sizeof *grown);
        if (!grown) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "program table: out of memory");
        ctx->programs = grown;
        ctx->cap_programs = cap;
    }
    clf__program_slot s = {0};
    s.name = clf__strdup(name);
    s.options = clf__strdup(options);
    if (!s.name || !s.options) {
        clf__free(s.name);
        clf__free(s.options);
        return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "program table: out of memory");
    }
    s.program = prog;
    ctx->programs[ctx->n_programs] = s;
    *out = &ctx->programs[ctx->n_programs++];
    return CLF_OK;
}

static clf_status slot_get(clf_context *ctx, const char *name, const char *options,
                           clf__program_slot **out)
{
    if (!options) options = "";
    clf__program_slot *s = find_slot(ctx, name, options);
    if (s) {
        *out = s;
        return CLF_OK;
    }
    char *src = NULL;
    size_t size = 0;
    CLF_TRY(clf__program_source(ctx, name, &src, &size));
    cl_program prog = NULL;
    clf_status st = clf__program_build_source(ctx, name, src, size, options, &prog);
    clf__free(src);
    if (st != CLF_OK) return st;
    st = add_slot(ctx, name, options, prog, out);
    if (st != CLF_OK) clReleaseProgram(prog);
    return st;
}

clf_status clf__program_get(clf_context *ctx, const char *name, const char *options,
                            cl_program *out)
{
    clf__program_slot *s;
    CLF_TRY(slot_get(ctx, name, options, &s));
    *out = s->program;
    return CLF_OK;
}

clf_status clf__kernel_get(clf_context *ctx, const char *program, const char *options,
                           const char *kernel, cl_kernel *out)
{
    clf__program_slot *s;
    CLF_TRY(slot_get(ctx, program, options, &s));
    for (size_t i = 0; i < s->n_kernels; i++) {
        if (strcmp(s->kernels[i].name, kernel) == 0) {
            *out = s->kernels[i].kernel;
            return CLF_OK;
        }
    }
    if (s->n_kernels == s->cap_kernels) {
        size_t cap = s->cap_kernels ? s->cap_kernels * 2 : 4;
        clf__kernel_slot *grown = clf__realloc(s->kernels, cap * sizeof *grown);
        if (!grown) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "kernel table: out of memory");
        s->kernels = grown;
        s->cap_kernels = cap;
    }
    char *name = clf__strdup(kernel);
    if (!name) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "kernel table: out of memory");
    cl_int err = CL_SUCCESS;
    cl_kernel k = clf__cl_fault() ? (err = CL_OUT_OF_HOST_MEMORY, NULL)
                                  : clCreateKernel(s->program, kernel, &err);
    if (err != CL_SUCCESS) {
        clf__free(name);
        if (err == CL_INVALID_KERNEL_NAME)
            return clf__error(ctx, CLF_ERR_NOT_FOUND, "program \"%s\" has no kernel \"%s\"",
                              program, kernel);
        return clf__cl_error(ctx, err, "clCreateKernel");
    }
    s->kernels[s->n_kernels++] = (clf__kernel_slot){name, k};
    *out = k;
    return CLF_OK;
}

void clf__programs_release(clf_context *ctx)
{
    for (size_t i = 0; i < ctx->n_programs; i++) {
        clf__program_slot *s = &ctx->programs[i];
        for (size_t k = 0; k < s->n_kernels; k++) {
            clReleaseKernel(s->kernels[k].kernel);
            clf__free(s->kernels[k].name);
        }
        clf__free(s->kernels);
        clReleaseProgram(s->program);
        clf__free(s->name);
        clf__free(s->options);
    }
    clf__free(ctx->programs);
    ctx->programs = NULL;
    ctx->n_programs = ctx->cap_programs = 0;
}

static clf_status context_build_all_body(clf_context *ctx)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_context_build_all: NULL context");
    for (size_t i = 0; i < clf__kernel_files_count; i++) {
        if (clf__kernel_files[i].part) continue;
        cl_program prog;
        CLF_TRY(clf__program_get(ctx, clf__kernel_files[i].name, NULL, &prog));
    }
    return CLF_OK;
}

clf_status clf_context_build_all(clf_context *ctx)
{
    CLF__GUARDED(ctx, "clf_context_build_all", context_build_all_body(ctx));
}

void clf_context_build_stats(const clf_context *ctx, clf_build_stats *out)
{
    if (!out) return;
    if (!ctx) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = ctx->stats;
}

size_t clf__kernel_wg_limit(clf_context *ctx, cl_kernel k)
{
    size_t lim = (size_t)clf__limits_group_max(&ctx->kprof.limits);
    size_t kmax = 0;
    if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                 NULL) == CL_SUCCESS && kmax > 0 && kmax < lim)
        lim = kmax;
    return lim ? lim : 1;
}

size_t clf__wg_fit(clf_context *ctx, cl_kernel k, size_t want)
{
    size_t lim = clf__kernel_wg_limit(ctx, k);
    while (want > 1 && want > lim) want /= 2;
    return want;
}
