/*
 * The command line's parsing, kept apart from everything that needs a
 * device so that tests/fuzz/fuzz_cli.c can drive it alone: the one parser of
 * numeric option values (every subcommand and `clformer bench` use it), the
 * options of `clformer run` (getopt_long), its input lines and token ids.
 * Nothing here prints or exits: errors come back as text.
 */
#ifndef CLF_CLI_ARGS_H
#define CLF_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <clformer/model.h>

/* ---- shared by every subcommand: cli_options.c ---- */

/* How an option's value is read: a base-10 integer or a decimal real, in
 * [lo, hi] (lo excluded when lo_open). Integers stay within +-2^53 so that
 * a double holds them exactly. */
typedef struct cli_num_rule {
    bool real;
    double lo, hi;
    bool lo_open;
} cli_num_rule;

/* The one parser of numeric option values. The whole of text must be the
 * number: no space, no trailing characters ("1x"), no exponent or point in
 * an integer ("1e3"), no "nan", "inf" or hexadecimal; and it must lie in
 * the rule's range. Returns true with *out set, or false with a message
 * naming the option, the text and the range in err (e.g. `--batch: "1x" is
 * not an integer in 1..4096`). */
bool cli_number(const char *option, const char *text, cli_num_rule rule, double *out, char *err,
                size_t errlen);

/* After getopt_long (opterr 0, optstring ":") returned c = '?' or ':': the
 * message ("unknown option \"--x\"", "option --model needs a value"). */
void cli_option_message(int c, int argc, char *const *argv, char *err, size_t errlen);

/* ---- clformer run: run_args.c ---- */

typedef enum cli_task { CLI_TASK_EMBED, CLI_TASK_CLASSIFY, CLI_TASK_GENERATE } cli_task;

/* Which generation settings the command line gave (cli_run_opts.gen_set):
 * only these replace the model's own (clf_model_generate_defaults). */
enum {
    CLI_SET_MAX_NEW = 1u << 0,
    CLI_SET_STRATEGY = 1u << 1, /* --beam K or --sample */
    CLI_SET_TEMPERATURE = 1u << 2,
    CLI_SET_TOP_K = 1u << 3,
    CLI_SET_TOP_P = 1u << 4,
};

typedef struct cli_run_opts {
    const char *model, *device, *input; /* input: NULL = none given, "-" = standard input */
    cli_task task;
    bool translate; /* the task was `translate`: generate, encoder-decoder only, beam */
    int64_t batch;  /* 1..4096 */
    bool batch_set; /* --batch was given */
    bool json;
    clf_dtype weights; /* --weights (CLF_F32 unless given; --f16 = CLF_F16) */
    bool text, ids; /* --text: inputs must be text; --ids: token ids in and out */
    /* max_new_tokens >= 1 (32 unless --max-new); beam_size >= 1 when beam. The
     * fields of gen_set replace the model's settings; seed and ignore_eos
     * always apply (the files have neither). */
    clf_generate_params gen;
    unsigned gen_set; /* CLI_SET_* */
    char **inputs;    /* the INPUT arguments (pointers into argv) */
    int64_t n_inputs;
    bool read_lines; /* inputs also come one per line from `input` (or standard input) */
} cli_run_opts;

/* Parses `run [options] TASK [INPUT...]` (argv[0] = "run") with getopt_long,
 * which permutes argv. Every value is checked: numbers through cli_number,
 * combinations (sampling options without --sample, --beam with --sample,
 * generate's options with embed) refused rather than ignored. Returns 0, or
 * 2 with the message in err. Allocates nothing; o's pointers point into
 * argv. */
int cli_run_parse(int argc, char **argv, cli_run_opts *o, char *err, size_t errlen);

/* Longest input line read (bytes): a longer one is an error, not a slow
 * allocation of the whole stream. */
#define CLI_MAX_LINE (16 << 20)

/* Reads the next line of f into *line (grown as needed, *cap bytes; the
 * caller frees it) without its "\n" or "\r\n", NUL-terminated, its length in
 * *len. line_no is the 1-based number of this line, for messages. Returns 1
 * for a line, 0 at the end of the input, -1 with err set: a read error, a
 * line longer than CLI_MAX_LINE, or a NUL byte inside the line (such a line
 * is refused, never cut at the NUL: C strings would silently lose the rest). */
int cli_read_line(FILE *f, char **line, size_t *cap, size_t *len, int64_t line_no, char *err,
                  size_t errlen);

/* Parses token ids "12 7 99" (separated by spaces, tabs or commas) into ids
 * (capacity cap), each in 0..vocab-1. Returns the count (>= 1), or -1 with
 * err set (not a number, out of range, none, or more than cap). */
int64_t cli_parse_ids(const char *s, int32_t *ids, int64_t cap, int64_t vocab, char *err,
                      size_t errlen);

#endif
