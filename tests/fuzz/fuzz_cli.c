/*
 * libFuzzer target for the command line's parsing (src/cli/cli_args.h):
 * `clformer run`'s options (getopt_long), the number parser every option
 * goes through, input lines and token ids. No device: the same code the
 * command runs before it opens one.
 * Build and run with tools/fuzz.sh cli SECONDS.
 * fuzz-sources: src/cli/cli_options.c src/cli/run_args.c
 *
 * An input is the arguments, each ended by a NUL byte, then a second NUL
 * (an empty argument) and the input stream:
 *   "--batch\0" "4\0" "embed\0" "\0" "line one\nline two\n"
 * Each part must parse or be refused with a message, never crash, read out
 * of bounds (ASan) or hit undefined behaviour (UBSan); what parses must
 * hold the documented ranges.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { MAX_ARGS = 64 };

static void check_opts(const cli_run_opts *o, int argc, char **argv)
{
    CHECK(o->model && *o->model);
    CHECK(o->batch >= 1 && o->batch <= 4096);
    CHECK(o->task == CLI_TASK_EMBED || o->task == CLI_TASK_CLASSIFY ||
          o->task == CLI_TASK_GENERATE);
    const clf_generate_params *g = &o->gen;
    CHECK(g->max_new_tokens >= 1 && g->max_new_tokens <= 100000);
    CHECK(g->strategy == CLF_DECODE_GREEDY || g->strategy == CLF_DECODE_BEAM ||
          g->strategy == CLF_DECODE_SAMPLE);
    CHECK(g->strategy != CLF_DECODE_BEAM || (g->beam_size >= 1 && g->beam_size <= 64));
    /* What the library range-checks (model.h) must hold already. */
    CHECK(g->temperature >= 0 && isfinite(g->temperature));
    CHECK(g->top_p >= 0 && g->top_p <= 1);
    CHECK(g->top_k >= 0);
    CHECK(o->task == CLI_TASK_GENERATE ||
          (g->strategy == CLF_DECODE_GREEDY && !o->text && !o->ids));
    CHECK(!(o->text && o->ids) && (!o->translate || o->task == CLI_TASK_GENERATE));
    CHECK(o->n_inputs >= 0 && o->n_inputs < argc);
    for (int64_t i = 0; i < o->n_inputs; i++) { /* inputs are arguments, not copies */
        bool found = false;
        for (int j = 1; j < argc && !found; j++)
            found = o->inputs[i] == argv[j];
        CHECK(found);
    }
    CHECK(o->read_lines == (o->n_inputs == 0 || o->input != NULL));
    CHECK(!o->read_lines || (o->input && *o->input));
}

/* Every argument through the number parser, under an integer and a real
 * rule: a value it accepts is in range and, for integers, whole. */
static void check_numbers(int argc, char **argv)
{
    static const cli_num_rule rules[] = {
        {false, 1, 4096, false}, {false, 0, 9007199254740992.0, false},
        {true, 0, 1, true},      {true, -1e300, 1e300, false},
    };
    for (int i = 0; i < argc; i++)
        for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
            char err[256];
            double v = NAN;
            if (cli_number("--x", argv[i], rules[k], &v, err, sizeof err)) {
                CHECK(isfinite(v) && v <= rules[k].hi);
                CHECK(rules[k].lo_open ? v > rules[k].lo : v >= rules[k].lo);
                CHECK(rules[k].real || v == floor(v));
            } else {
                CHECK(strstr(err, "--x: \"") == err);
            }
        }
}

/* The input stream: lines (no NUL inside, no line end kept), each parsed as
 * token ids of a 128-entry vocabulary. */
static void check_lines(const uint8_t *data, size_t size)
{
    if (size == 0) return; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "rb");
    CHECK(f);
    char *line = NULL, err[256];
    size_t cap = 0, len = 0;
    int32_t ids[48];
    int64_t no = 0;
    int got;
    while ((got = cli_read_line(f, &line, &cap, &len, no + 1, err, sizeof err)) > 0) {
        no++;
        CHECK(strlen(line) == len && len < cap);
        CHECK(!strchr(line, '\n'));
        int64_t n = cli_parse_ids(line, ids, 48, 128, err, sizeof err);
        CHECK(n == -1 || (n >= 1 && n <= 48));
        for (int64_t i = 0; i < n; i++)
            CHECK(ids[i] >= 0 && ids[i] < 128);
        if (n < 0) CHECK(err[0]);
    }
    /* A refused line names its number, one past the lines read. */
    if (got < 0) {
        char want[32];
        snprintf(want, sizeof want, "line %lld", (long long)no + 1);
        CHECK(strstr(err, want));
    }
    free(line);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Copy: the arguments must be writable (getopt_long permutes argv) and
     * NUL-terminated. */
    char *buf = malloc(size + 1);
    CHECK(buf);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "run";
    size_t at = 0;
    while (at < size && argc < MAX_ARGS) {
        size_t n = strlen(buf + at);
        if (n == 0) { /* the empty argument: the stream follows */
            at++;
            break;
        }
        argv[argc++] = buf + at;
        at += n + 1;
    }
    argv[argc] = NULL;
    size_t stream = at < size ? at : size;

    char *copy[MAX_ARGS + 2];
    memcpy(copy, argv, sizeof copy);
    check_numbers(argc, argv);
    cli_run_opts o;
    char err[512];
    int rc = cli_run_parse(argc, argv, &o, err, sizeof err);
    CHECK(rc == 0 || rc == 2);
    if (rc == 0) check_opts(&o, argc, argv);
    else CHECK(err[0]);
    /* getopt_long only permutes: the same arguments remain. */
    for (int i = 0; i < argc; i++) {
        bool found = false;
        for (int j = 0; j < argc && !found; j++)
            found = argv[i] == copy[j];
        CHECK(found);
    }
    check_lines(data + stream, size - stream);
    free(buf);
    return 0;
}
