/*
 * `clformer run`'s options, input lines and token ids (cli_args.h): no
 * device, no model, no output, so that the fuzz target drives the same code
 * as the command.
 */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.h"

enum {
    O_MODEL = 256,
    O_DEVICE,
    O_INPUT,
    O_BATCH,
    O_JSON,
    O_F16,
    O_WEIGHTS,
    O_TEXT,
    O_MAX_NEW,
    O_BEAM,
    O_SAMPLE,
    O_TEMPERATURE,
    O_TOP_K,
    O_TOP_P,
    O_SEED,
    O_IGNORE_EOS,
    O_IDS,
};

static const struct option run_options[] = {
    {"model", required_argument, NULL, O_MODEL},
    {"device", required_argument, NULL, O_DEVICE},
    {"input", required_argument, NULL, O_INPUT},
    {"batch", required_argument, NULL, O_BATCH},
    {"json", no_argument, NULL, O_JSON},
    {"f16", no_argument, NULL, O_F16},
    {"weights", required_argument, NULL, O_WEIGHTS},
    {"text", no_argument, NULL, O_TEXT},
    {"max-new", required_argument, NULL, O_MAX_NEW},
    {"beam", required_argument, NULL, O_BEAM},
    {"sample", no_argument, NULL, O_SAMPLE},
    {"temperature", required_argument, NULL, O_TEMPERATURE},
    {"top-k", required_argument, NULL, O_TOP_K},
    {"top-p", required_argument, NULL, O_TOP_P},
    {"seed", required_argument, NULL, O_SEED},
    {"ignore-eos", no_argument, NULL, O_IGNORE_EOS},
    {"ids", no_argument, NULL, O_IDS},
    {NULL, 0, NULL, 0},
};

/* The ranges of the numeric options (also in cli_run_usage). */
static const cli_num_rule BATCH = {false, 1, 4096, false};
static const cli_num_rule MAX_NEW = {false, 1, 100000, false};
static const cli_num_rule BEAM = {false, 1, 64, false};
static const cli_num_rule TEMPERATURE = {true, 0, DBL_MAX, true};
static const cli_num_rule TOP_K = {false, 0, 1000000000, false};
static const cli_num_rule TOP_P = {true, 0, 1, true};
static const cli_num_rule SEED = {false, 0, 9007199254740992.0, false}; /* 2^53 */

#define NUMBER(name, rule)                                                                         \
    do {                                                                                           \
        if (!cli_number(name, optarg, rule, &v, err, errlen)) return 2;                            \
    } while (0)

int cli_run_parse(int argc, char **argv, cli_run_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o); /* o->gen zeroed = clf_generate_params_default() */
    o->batch = 32;
    o->gen.max_new_tokens = 32;
    const char *sampling = NULL, *generating = NULL; /* an option of each kind, for messages */
    err[0] = '\0';
    optind = 0; /* glibc: a full restart of getopt's state, for a second parse */
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_DEVICE: o->device = optarg; break;
        case O_INPUT: o->input = optarg; break;
        case O_BATCH:
            NUMBER("--batch", BATCH);
            o->batch = (int64_t)v;
            o->batch_set = true;
            break;
        case O_JSON: o->json = true; break;
        case O_F16: o->weights = CLF_F16; break; /* the alias of --weights f16 */
        case O_WEIGHTS:
            if (strcmp(optarg, "f32") == 0) o->weights = CLF_F32;
            else if (strcmp(optarg, "f16") == 0) o->weights = CLF_F16;
            else if (strcmp(optarg, "q8") == 0) o->weights = CLF_Q8;
            else if (strcmp(optarg, "q4") == 0) o->weights = CLF_Q4;
            else {
                snprintf(err, errlen, "--weights \"%s\": expected f32, f16, q8 or q4", optarg);
                return 2;
            }
            break;
        case O_TEXT:
            o->text = true;
            generating = "--text";
            break;
        case O_IDS:
            o->ids = true;
            generating = "--ids";
            break;
        case O_MAX_NEW:
            NUMBER("--max-new", MAX_NEW);
            o->gen.max_new_tokens = (int64_t)v;
            o->gen_set |= CLI_SET_MAX_NEW;
            generating = "--max-new";
            break;
        case O_BEAM:
            NUMBER("--beam", BEAM);
            if (o->gen.strategy == CLF_DECODE_SAMPLE) {
                snprintf(err, errlen, "--sample and --beam exclude each other");
                return 2;
            }
            o->gen.strategy = CLF_DECODE_BEAM;
            o->gen.beam_size = (int)v;
            o->gen_set |= CLI_SET_STRATEGY;
            generating = "--beam";
            break;
        case O_SAMPLE:
            if (o->gen.strategy == CLF_DECODE_BEAM) {
                snprintf(err, errlen, "--sample and --beam exclude each other");
                return 2;
            }
            o->gen.strategy = CLF_DECODE_SAMPLE;
            o->gen_set |= CLI_SET_STRATEGY;
            generating = "--sample";
            break;
        case O_TEMPERATURE:
            NUMBER("--temperature", TEMPERATURE);
            o->gen.temperature = (float)v;
            /* A tiny value that float cannot hold would become 0 = "1.0". */
            if (!(o->gen.temperature > 0)) o->gen.temperature = FLT_MIN;
            o->gen_set |= CLI_SET_TEMPERATURE;
            sampling = "--temperature";
            break;
        case O_TOP_K:
            NUMBER("--top-k", TOP_K);
            o->gen.top_k = (int)v;
            o->gen_set |= CLI_SET_TOP_K;
            sampling = "--top-k";
            break;
        case O_TOP_P:
            NUMBER("--top-p", TOP_P);
            o->gen.top_p = (float)v;
            if (!(o->gen.top_p > 0)) o->gen.top_p = FLT_MIN;
            o->gen_set |= CLI_SET_TOP_P;
            sampling = "--top-p";
            break;
        case O_SEED:
            NUMBER("--seed", SEED);
            o->gen.seed = (uint64_t)v;
            sampling = "--seed";
            break;
        case O_IGNORE_EOS:
            o->gen.ignore_eos = true;
            generating = "--ignore-eos";
            break;
        default: cli_option_message(c, argc, argv, err, errlen); return 2;
        }
    }
    if (o->text && o->ids) {
        snprintf(err, errlen, "--text and --ids exclude each other");
        return 2;
    }
    if (sampling && o->gen.strategy != CLF_DECODE_SAMPLE) {
        snprintf(err, errlen, "%s is a sampling option: it needs --sample%s", sampling,
                 o->gen.strategy == CLF_DECODE_BEAM ? " (not --beam)" : "");
        return 2;
    }
    if (optind >= argc || !o->model || !*o->model) {
        snprintf(err, errlen, "%s", !o->model || !*o->model ? "--model DIR is required"
                                                            : "a task is required");
        return 2;
    }
    const char *task = argv[optind];
    if (strcmp(task, "embed") == 0)
        o->task = CLI_TASK_EMBED;
    else if (strcmp(task, "classify") == 0)
        o->task = CLI_TASK_CLASSIFY;
    else if (strcmp(task, "generate") == 0)
        o->task = CLI_TASK_GENERATE;
    else if (strcmp(task, "translate") == 0) {
        o->task = CLI_TASK_GENERATE;
        o->translate = true;
    } else {
        snprintf(err, errlen, "unknown task \"%s\" (embed, classify, generate or translate)", task);
        return 2;
    }
    if (o->task != CLI_TASK_GENERATE && (generating || sampling)) {
        snprintf(err, errlen, "%s is an option of generate and translate, not of %s",
                 generating ? generating : sampling, task);
        return 2;
    }
    o->inputs = argv + optind + 1;
    o->n_inputs = argc - optind - 1;
    o->read_lines = o->n_inputs == 0 || o->input;
    if (!o->input && o->read_lines) o->input = "-";
    if (o->input && !*o->input) {
        snprintf(err, errlen, "--input needs a file name (\"-\" = standard input)");
        return 2;
    }
    return 0;
}

int cli_read_line(FILE *f, char **line, size_t *cap, size_t *len, int64_t line_no, char *err,
                  size_t errlen)
{
    size_t n = 0, nul_at = SIZE_MAX;
    bool any = false;
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        any = true;
        if (c == '\n') break;
        if (n >= CLI_MAX_LINE) {
            snprintf(err, errlen, "input line %lld is longer than %d bytes", (long long)line_no,
                     CLI_MAX_LINE);
            return -1;
        }
        if (n + 2 > *cap) {
            size_t grown = *cap ? *cap * 2 : 256;
            char *p = realloc(*line, grown);
            if (!p) {
                snprintf(err, errlen, "input line %lld: out of memory", (long long)line_no);
                return -1;
            }
            *line = p;
            *cap = grown;
        }
        if (c == '\0' && nul_at == SIZE_MAX) nul_at = n;
        (*line)[n++] = (char)c;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "reading input line %lld: %s", (long long)line_no, strerror(errno));
        return -1;
    }
    if (!any) return 0;
    if (nul_at != SIZE_MAX) {
        /* Every consumer after this point takes C strings: the text would be
         * cut at the NUL without a word. */
        snprintf(err, errlen,
                 "input line %lld has a NUL byte (at byte %zu): refused rather than cut there",
                 (long long)line_no, nul_at + 1);
        return -1;
    }
    if (n > 0 && (*line)[n - 1] == '\r') n--;
    if (!*line) { /* an empty line read into no buffer yet */
        *line = malloc(1);
        if (!*line) {
            snprintf(err, errlen, "input line %lld: out of memory", (long long)line_no);
            return -1;
        }
        *cap = 1;
    }
    (*line)[n] = '\0';
    *len = n;
    return 1;
}

int64_t cli_parse_ids(const char *s, int32_t *ids, int64_t cap, int64_t vocab, char *err,
                      size_t errlen)
{
    static const char sep[] = " \t,";
    int64_t n = 0;
    while (*s) {
        s += strspn(s, sep);
        if (!*s) break;
        size_t w = strcspn(s, sep), digits = strspn(s, "0123456789");
        if (digits != w) {
            snprintf(err, errlen, "\"%.*s\" is not a token id (a number in 0..%lld)",
                     (int)(w < 40 ? w : 40), s, (long long)vocab - 1);
            return -1;
        }
        /* More than 18 digits cannot be below vocab (an int64). */
        long long v = w > 18 ? vocab : strtoll(s, NULL, 10);
        if (v >= vocab) {
            snprintf(err, errlen, "token id %.*s is outside the vocabulary 0..%lld",
                     (int)(w < 40 ? w : 40), s, (long long)vocab - 1);
            return -1;
        }
        if (n == cap) {
            snprintf(err, errlen, "more than %lld token ids (the most one input may have)",
                     (long long)cap);
            return -1;
        }
        ids[n++] = (int32_t)v;
        s += w;
    }
    if (n == 0) snprintf(err, errlen, "no token ids (expected numbers such as \"101 2023 102\")");
    return n ? n : -1;
}
