/*
 * The autotuner's stored results: one small text file per device in the
 * cache folder, "tune-<key>.txt", keyed like the kernel binaries (library
 * version, device name and vendor, driver and platform versions) and, in
 * addition, by the default profile the tuning started from (family and
 * limits included), so a forced family or simulated limits never pick up
 * values tuned for another profile. The file is "clformer-tune 1" and then
 * one "field value" line per profile field; it is loaded at context
 * creation. Anything unexpected (unknown field, bad number, a value that
 * fails clf_kernel_profile_check) makes the whole file ignored, with a
 * warning: a damaged file costs speed, never correctness.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/tune.h>

#include "runtime/runtime.h"

static const char magic[] = "clformer-tune 1";

/* The text the key hashes: the default profile's family, limits and fields. */
static size_t profile_text(const clf_kernel_profile *p, char *buf, size_t size)
{
    const clf_device_limits *l = &p->limits;
    size_t used = (size_t)snprintf(buf, size, "tune v1 family=%d wg=%llu kwg=%llu local=%llu alloc=%llu fp16=%d sg=%d cl=%d wa=%u",
                                   (int)p->family, (unsigned long long)l->max_work_group_size,
                                   (unsigned long long)l->kernel_work_group_size,
                                   (unsigned long long)l->local_mem_bytes,
                                   (unsigned long long)l->max_alloc_bytes, l->fp16, l->subgroups,
                                   l->opencl_version, p->workarounds);
    clf_kernel_profile copy = *p;
    for (int i = 0; i < clf__profile_field_count() && used < size; i++) {
        const clf__profile_field *f = clf__profile_field_at(i);
        used += (size_t)snprintf(buf + used, size - used, " %s=%d", f->name, *clf__profile_field_ptr(&copy, f));
    }
    return used < size ? used : size - 1;
}

clf_status clf_tune_file_path(const clf_context *ctx, char *buf, size_t size)
{
    if (!ctx || !buf) return clf__error((clf_context *)ctx, CLF_ERR_INVALID_ARG, "clf_tune_file_path: NULL argument");
    if (!ctx->cache_dir) return clf__error((clf_context *)ctx, CLF_ERR_NOT_FOUND, "clf_tune_file_path: the disk cache is off");
    char text[2048];
    size_t n = profile_text(&ctx->kprof_default, text, sizeof text);
    unsigned char key[CLF__CACHE_KEY_BYTES];
    CLF_TRY(clf__cache_key(ctx, text, n, "", key));
    char hex[2 * CLF__CACHE_KEY_BYTES + 1];
    clf__hex(key, CLF__CACHE_KEY_BYTES, hex);
    int w = snprintf(buf, size, "%s/tune-%.32s.txt", ctx->cache_dir, hex);
    if (w < 0 || (size_t)w >= size)
        return clf__error((clf_context *)ctx, CLF_ERR_INVALID_ARG, "clf_tune_file_path: buffer too small");
    return CLF_OK;
}

/* Parses text onto *p (a copy of the default). Returns NULL on success or
 * what is wrong. */
static const char *parse(const char *text, clf_kernel_profile *p, char *why, size_t why_size)
{
    size_t ml = sizeof magic - 1;
    if (strncmp(text, magic, ml) != 0 || (text[ml] != '\n' && text[ml] != '\0')) return "no \"clformer-tune 1\" header";
    const char *s = text + ml;
    int line = 1;
    while (*s) {
        if (*s == '\n') {
            s++, line++;
            continue;
        }
        char name[64];
        int used = 0;
        if (sscanf(s, "%63s%n", name, &used) != 1) break;
        s += used;
        const clf__profile_field *f = clf__profile_field_find(name);
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!f || end == s || errno || v < -1000000 || v > 1000000 || (*end && *end != '\n')) {
            snprintf(why, why_size, "line %d (\"%s\") is not a known field and a number", line, name);
            return why;
        }
        *clf__profile_field_ptr(p, f) = (int)v;
        s = end;
    }
    if (clf_kernel_profile_check(p) != CLF_OK) {
        snprintf(why, why_size, "%s", clf_context_last_error(NULL));
        return why;
    }
    return NULL;
}

void clf__tune_load(clf_context *ctx)
{
    const char *env = getenv("CLFORMER_TUNE");
    if (env && strcmp(env, "0") == 0) return;
    char path[4300];
    if (!ctx->cache_dir || clf_tune_file_path(ctx, path, sizeof path) != CLF_OK) return;
    char *text = NULL, msg[256];
    size_t len = 0;
    clf_status st = clf__file_read_all(path, 1 << 16, &text, &len, msg, sizeof msg);
    if (st == CLF_ERR_NOT_FOUND) return;
    if (st != CLF_OK) {
        clf__log(CLF_LOG_WARN, "tuning result %s ignored: %s", path, msg);
        return;
    }
    clf_kernel_profile p = ctx->kprof_default;
    char why[320];
    const char *bad = parse(text, &p, why, sizeof why);
    clf__free(text);
    if (bad) {
        clf__log(CLF_LOG_WARN, "tuning result %s ignored (the defaults stay): %s", path, bad);
        return;
    }
    p.tuned = true;
    ctx->kprof = p;
    clf__log(CLF_LOG_INFO, "kernel profile: tuned values from %s", path);
}

clf_status clf__tune_save(clf_context *ctx, const clf_kernel_profile *p, char *path, size_t size)
{
    char local_path[4300];
    if (!path) path = local_path, size = sizeof local_path;
    CLF_TRY(clf_tune_file_path(ctx, path, size));
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text, "%s\n", magic);
    clf_kernel_profile copy = *p;
    for (int i = 0; i < clf__profile_field_count() && used < sizeof text; i++) {
        const clf__profile_field *f = clf__profile_field_at(i);
        used += (size_t)snprintf(text + used, sizeof text - used, "%s %d\n", f->name,
                                 *clf__profile_field_ptr(&copy, f));
    }
    if (used >= sizeof text) return clf__error(ctx, CLF_ERR_INVALID_ARG, "tuning result: too long");
    const void *parts[] = {text};
    size_t sizes[] = {used};
    if (clf__file_replace(path, parts, sizes, 1) != 0)
        return clf__error(ctx, CLF_ERR_IO, "tuning result: cannot write %s", path);
    return CLF_OK;
}

static clf_status set_profile_body(clf_context *ctx, const clf_kernel_profile *p)
{
    if (!ctx || !p) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_context_set_kernel_profile: NULL argument");
    if (p->family != ctx->kprof.family)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_context_set_kernel_profile: family %s differs from the context's %s "
                          "(fixed at clf_context_create)",
                          clf_kernel_family_name(p->family), clf_kernel_family_name(ctx->kprof.family));
    if (memcmp(&p->limits, &ctx->kprof.limits, sizeof p->limits) != 0 ||
        p->workarounds != ctx->kprof.workarounds)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_context_set_kernel_profile: limits and workarounds must stay the "
                          "context's (fixed at clf_context_create)");
    if (clf_kernel_profile_check(p) != CLF_OK)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_context_set_kernel_profile: %s",
                          clf_context_last_error(NULL));
    ctx->kprof = *p;
    return CLF_OK;
}

clf_status clf_context_set_kernel_profile(clf_context *ctx, const clf_kernel_profile *p)
{
    CLF__GUARDED(ctx, "clf_context_set_kernel_profile", set_profile_body(ctx, p));
}

const clf_kernel_profile *clf_context_default_profile(const clf_context *ctx)
{
    return ctx ? &ctx->kprof_default : NULL;
}
