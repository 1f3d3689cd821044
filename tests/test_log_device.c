/* Device tests: the messages that only device work produces, through a
 * capturing log callback (include/clformer/log.h): a kernel build failure at
 * error level with the compiler's log, the device choice at info, disk cache
 * misses, writes and hits at debug, and a model load's summary at info.
 * Host-side behaviour of the sink is in test_log.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/testutil.h"
#include "runtime/runtime.h"

#define MAX_LINES 256

static struct {
    int n;
    clf_log_level level[MAX_LINES];
    char text[MAX_LINES][2048];
} log_seen;

static void capture(clf_log_level level, const char *message, void *user)
{
    (void)user;
    if (log_seen.n >= MAX_LINES) return;
    log_seen.level[log_seen.n] = level;
    snprintf(log_seen.text[log_seen.n], sizeof log_seen.text[0], "%s", message);
    log_seen.n++;
}

/* The index of the first message at level containing every needle (a
 * NULL-terminated list), or -1. */
static int find(clf_log_level level, const char *const *needles)
{
    for (int i = 0; i < log_seen.n; i++) {
        if (log_seen.level[i] != level) continue;
        int all = 1;
        for (const char *const *n = needles; *n && all; n++)
            all = strstr(log_seen.text[i], *n) != NULL;
        if (all) return i;
    }
    return -1;
}

/* All messages seen, for a failure report. */
static const char *dump(void)
{
    static char all[16384];
    size_t used = 0;
    all[0] = '\0';
    for (int i = 0; i < log_seen.n && used < sizeof all; i++) {
        int w = snprintf(all + used, sizeof all - used, "  [%s] %.300s\n",
                         clf_log_level_name(log_seen.level[i]), log_seen.text[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return all;
}

static char dir[512];
static char spec[32];

static void setup(void)
{
    char specs[16][32];
    clft_devices_or_skip(specs, 16);
    snprintf(spec, sizeof spec, "%s", specs[0]);
    clft_tempdir(dir, sizeof dir, "logdev");
    log_seen.n = 0;
    cr_assert_eq(clf_set_log_callback(capture, NULL), CLF_OK);
}

static void teardown(void)
{
    clf_set_log_callback(NULL, NULL);
    clft_rmtree(dir);
}

TestSuite(log_device, .init = setup, .fini = teardown, .timeout = 600);

Test(log_device, kernel_build_failure_is_an_error_message_with_the_build_log)
{
    clf_context *ctx = clft_context(spec, dir);
    log_seen.n = 0;
    static const char bad[] = "__kernel void broken(__global float *x) { x[0] = 1.0f +; }\n";
    cl_program prog = NULL;
    clf_status st = clf__program_build_source(ctx, "log_broken", bad, sizeof bad - 1, NULL, &prog);
    cr_assert_eq(st, CLF_ERR_BUILD, "got %s", clf_status_name(st));
    const char *const needles[] = {"log_broken", "build log", "CL_BUILD_PROGRAM_FAILURE", NULL};
    int at = find(CLF_LOG_ERROR, needles);
    cr_assert_geq(at, 0, "no error message naming the program with its log; messages:\n%s", dump());
    /* The compiler's own words, not only our header. */
    const char *log = strstr(log_seen.text[at], "build log:\n") + strlen("build log:\n");
    cr_assert(strlen(log) > 0 && strcmp(log, "(empty)") != 0, "empty build log: %s",
              log_seen.text[at]);
    cr_assert_str_eq(log_seen.text[at], clf_context_last_error(ctx),
                     "the message is the last error");
    clf_context_free(ctx);
}

Test(log_device, device_choice_is_an_info_message_with_its_reason)
{
    cr_assert_eq(clf_set_log_level(CLF_LOG_INFO), CLF_OK);
    clf_context *ctx = clft_context(spec, dir);
    char chosen[64];
    snprintf(chosen, sizeof chosen, "device %s (", spec);
    const char *const needles[] = {chosen, clf_context_device(ctx)->name, "named by", NULL};
    cr_assert_geq(find(CLF_LOG_INFO, needles), 0, "no info message on the choice of %s:\n%s", spec,
                  dump());
    clf_context_free(ctx);

    /* At the default level, none of it. */
    cr_assert_eq(clf_set_log_level(CLF_LOG_WARN), CLF_OK);
    log_seen.n = 0;
    ctx = clft_context(spec, dir);
    cr_assert_eq(log_seen.n, 0, "messages at warn level:\n%s", dump());
    clf_context_free(ctx);
}

Test(log_device, disk_cache_miss_write_and_hit_are_debug_messages)
{
    cr_assert_eq(clf_set_log_level(CLF_LOG_DEBUG), CLF_OK);
    static const char src[] = "__kernel void log_fill(__global float *x) { x[0] = 2.0f; }\n";
    for (int round = 0; round < 2; round++) {
        clf_context *ctx = clft_context(spec, dir);
        cl_program prog = NULL;
        log_seen.n = 0;
        cr_assert_eq(clf__program_build_source(ctx, "log_fill", src, sizeof src - 1, NULL, &prog),
                     CLF_OK, "%s", clf_context_last_error(ctx));
        clReleaseProgram(prog);
        const char *const miss[] = {"disk cache: program log_fill: miss", dir, NULL};
        const char *const written[] = {"disk cache: program log_fill: written", "bytes", NULL};
        const char *const hit[] = {"disk cache: program log_fill: hit", dir, NULL};
        const char *const compiled[] = {"program log_fill compiled in", NULL};
        const char *const loaded[] = {"program log_fill loaded from the cache in", NULL};
        if (round == 0) {
            cr_assert_geq(find(CLF_LOG_DEBUG, miss), 0, "cold:\n%s", dump());
            cr_assert_geq(find(CLF_LOG_DEBUG, written), 0, "cold:\n%s", dump());
            cr_assert_geq(find(CLF_LOG_INFO, compiled), 0, "cold:\n%s", dump());
            cr_assert_lt(find(CLF_LOG_DEBUG, hit), 0, "cold:\n%s", dump());
        } else {
            cr_assert_geq(find(CLF_LOG_DEBUG, hit), 0, "warm:\n%s", dump());
            cr_assert_geq(find(CLF_LOG_INFO, loaded), 0, "warm:\n%s", dump());
            cr_assert_lt(find(CLF_LOG_DEBUG, miss), 0, "warm:\n%s", dump());
        }
        clf_context_free(ctx);
    }
}

Test(log_device, model_load_is_one_info_summary)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/hf/gpt2", clft_golden_dir());
    clf_context *ctx = clft_model_context(spec);
    cr_assert_eq(clf_set_log_level(CLF_LOG_INFO), CLF_OK);
    log_seen.n = 0;
    clf_model *m = NULL;
    cr_assert_eq(clf_model_load(ctx, path, NULL, &m), CLF_OK, "%s", clf_context_last_error(ctx));
    const clf_model_config *c = clf_model_get_config(m);
    char layers[64], vocab[64];
    snprintf(layers, sizeof layers, "%d encoder + %d decoder layers", c->encoder_layers,
             c->decoder_layers);
    snprintf(vocab, sizeof vocab, "vocab %lld", (long long)c->vocab);
    const char *const needles[] = {"model ",      path, "(GPT2LMHeadModel)", layers, vocab,
                                   "f32 weights", NULL};
    int at = find(CLF_LOG_INFO, needles);
    cr_assert_geq(at, 0, "no model summary:\n%s", dump());
    int summaries = 0;
    for (int i = 0; i < log_seen.n; i++)
        summaries += strncmp(log_seen.text[i], "model ", 6) == 0;
    cr_assert_eq(summaries, 1, "%d summaries:\n%s", summaries, dump());
    clf_model_free(m);
    clf_context_free(ctx);
}
