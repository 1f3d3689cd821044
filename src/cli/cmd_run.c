/*
 * `clformer run --model DIR <embed|classify|generate> [TEXT...]`: runs a
 * model folder (HuggingFace or sentence-transformers; or a clformer
 * safetensors file) on texts or token ids given as arguments, or one per
 * line from --input FILE or standard input, in batches.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

void cli_run_usage(FILE *out)
{
    fprintf(out,
            "usage: clformer run --model DIR [options] <embed|classify|generate> [INPUT...]\n\n"
            "Runs a model folder (HuggingFace config.json + safetensors, or a\n"
            "sentence-transformers folder) on each INPUT, or on each line of --input FILE\n"
            "or of standard input when no INPUT is given.\n"
            "  embed      text in (WordPiece models), one vector per input out (the\n"
            "             model's pooling; L2-normalised for sentence-transformers)\n"
            "  classify   text in, the best label and every label's probability out\n"
            "  generate   token ids in (\"101 2023 102\"; or text for WordPiece models with\n"
            "             --text), generated ids out\n"
            "options:\n"
            "  --model DIR      the model folder (or a clformer .safetensors file)\n"
            "  --device SPEC    best, gpu, cpu, P:D or a name (default: CLFORMER_DEVICE or best)\n"
            "  --input FILE     read inputs from FILE, one per line (\"-\" = standard input)\n"
            "  --batch N        inputs per batch (default 32)\n"
            "  --json           one JSON object per input on standard output\n"
            "  --f16            store the weights as f16 (half the memory)\n"
            "generate:\n"
            "  --text           inputs are texts, tokenised with the model's WordPiece vocabulary\n"
            "  --max-new N      tokens to generate per input (default 32)\n"
            "  --beam K         beam search of width K (default: greedy)\n"
            "  --sample         sample (with --temperature T, --top-k K, --top-p P, --seed S)\n"
            "A progress line is drawn on standard error when it is a terminal.\n");
}

typedef enum run_task { TASK_EMBED, TASK_CLASSIFY, TASK_GENERATE } run_task;

typedef struct run_opts {
    const char *model, *device, *input;
    run_task task;
    int64_t batch;
    bool json, f16, text;
    clf_generate_params gen;
    char **inputs; /* owned copies */
    int64_t n_inputs;
} run_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- inputs ---- */

static int add_input(run_opts *o, const char *s, size_t len)
{
    if ((o->n_inputs & (o->n_inputs - 1)) == 0) { /* grow at powers of two */
        char **grown = realloc(o->inputs, (size_t)(o->n_inputs ? o->n_inputs * 2 : 1) * sizeof *grown);
        if (!grown) return -1;
        o->inputs = grown;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, s, len);
    c[len] = 0;
    o->inputs[o->n_inputs++] = c;
    return 0;
}

static int read_lines(run_opts *o, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (add_input(o, line, (size_t)n) != 0) {
            free(line);
            return -1;
        }
    }
    free(line);
    return ferror(f) ? -1 : 0;
}

/* Parses "12 7 99" into ids; returns the count or -1. */
static int64_t parse_ids(const char *s, int32_t *ids, int64_t cap, int32_t vocab)
{
    int64_t n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (!*s) break;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v >= vocab || n >= cap) return -1;
        ids[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

/* ---- progress ---- */

typedef struct progress {
    bool on;
    double t0;
} progress;

static void progress_draw(const progress *p, const char *what, int64_t done, int64_t total)
{
    if (!p->on) return;
    int width = 30, fill = total > 0 ? (int)(done * width / total) : 0;
    char bar[40];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double el = now_s() - p->t0;
    fprintf(stderr, "\r\033[K%s [%s] %lld/%lld  %.1f s", what, bar, (long long)done, (long long)total, el);
    if (done > 0 && el > 0) fprintf(stderr, "  %.1f/s", (double)done / el);
    fflush(stderr);
}

static void progress_end(const progress *p)
{
    if (!p->on) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

/* ---- output ---- */

static void print_vector(const run_opts *o, int64_t index, const char *text, const float *v, int64_t n)
{
    if (o->json) {
        printf("{\"index\": %lld, \"input\": ", (long long)index);
        cli_json_string(stdout, text);
        printf(", \"embedding\": [");
        for (int64_t i = 0; i < n; i++) printf("%s%.8g", i ? ", " : "", (double)v[i]);
        printf("]}\n");
    } else {
        for (int64_t i = 0; i < n; i++) printf("%s%.8g", i ? " " : "", (double)v[i]);
        printf("\n");
    }
}

static void print_classes(const run_opts *o, const clf_model_info *info, int64_t index,
                          const char *text, const float *logits, int64_t c)
{
    /* probabilities: softmax of the logits, in double */
    double mx = -INFINITY, sum = 0;
    int64_t best = 0;
    for (int64_t i = 0; i < c; i++) {
        if (logits[i] > mx) mx = logits[i], best = i;
    }
    for (int64_t i = 0; i < c; i++) sum += exp((double)logits[i] - mx);
    const char *const *labels = info ? info->labels : NULL;
    char fallback[32];
#define LABEL(i) (labels ? labels[i] : (snprintf(fallback, sizeof fallback, "LABEL_%lld", (long long)(i)), fallback))
    if (o->json) {
        printf("{\"index\": %lld, \"input\": ", (long long)index);
        cli_json_string(stdout, text);
        printf(", \"label\": ");
        cli_json_string(stdout, LABEL(best));
        printf(", \"scores\": {");
        for (int64_t i = 0; i < c; i++) {
            printf("%s", i ? ", " : "");
            cli_json_string(stdout, LABEL(i));
            printf(": %.6g", exp((double)logits[i] - mx) / sum);
        }
        printf("}}\n");
    } else {
        printf("%s\t%.4f", LABEL(best), exp((double)logits[best] - mx) / sum);
        for (int64_t i = 0; i < c; i++) printf("\t%s=%.4f", LABEL(i), exp((double)logits[i] - mx) / sum);
        printf("\n");
    }
#undef LABEL
}

static void print_ids(const run_opts *o, int64_t index, const char *text, const int32_t *ids, int64_t n)
{
    if (o->json) {
        printf("{\"index\": %lld, \"input\": ", (long long)index);
        cli_json_string(stdout, text);
        printf(", \"ids\": [");
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("]}\n");
    } else {
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
}

/* ---- the run ---- */

static int parse_args(int argc, char **argv, run_opts *o)
{
    o->batch = 32;
    o->gen = clf_generate_params_default();
    o->gen.max_new_tokens = 32;
    const char *task = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--model") == 0 && has) o->model = argv[++i];
        else if (strcmp(a, "--device") == 0 && has) o->device = argv[++i];
        else if (strcmp(a, "--input") == 0 && has) o->input = argv[++i];
        else if (strcmp(a, "--batch") == 0 && has) o->batch = atoll(argv[++i]);
        else if (strcmp(a, "--json") == 0) o->json = true;
        else if (strcmp(a, "--f16") == 0) o->f16 = true;
        else if (strcmp(a, "--text") == 0) o->text = true;
        else if (strcmp(a, "--max-new") == 0 && has) o->gen.max_new_tokens = atoll(argv[++i]);
        else if (strcmp(a, "--beam") == 0 && has) {
            o->gen.strategy = CLF_DECODE_BEAM;
            o->gen.beam_size = atoi(argv[++i]);
        } else if (strcmp(a, "--sample") == 0) o->gen.strategy = CLF_DECODE_SAMPLE;
        else if (strcmp(a, "--temperature") == 0 && has) o->gen.temperature = (float)atof(argv[++i]);
        else if (strcmp(a, "--top-k") == 0 && has) o->gen.top_k = atoi(argv[++i]);
        else if (strcmp(a, "--top-p") == 0 && has) o->gen.top_p = (float)atof(argv[++i]);
        else if (strcmp(a, "--seed") == 0 && has) o->gen.seed = strtoull(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "clformer run: unknown option \"%s\"\n", a);
            return 2;
        } else if (!task) task = a;
        else if (add_input(o, a, strlen(a)) != 0) return 1;
    }
    if (!o->model || !task) {
        fprintf(stderr, "clformer run: %s\n", !o->model ? "--model DIR is required" : "a task is required");
        cli_run_usage(stderr);
        return 2;
    }
    if (strcmp(task, "embed") == 0) o->task = TASK_EMBED;
    else if (strcmp(task, "classify") == 0) o->task = TASK_CLASSIFY;
    else if (strcmp(task, "generate") == 0) o->task = TASK_GENERATE;
    else {
        fprintf(stderr, "clformer run: unknown task \"%s\" (embed, classify or generate)\n", task);
        return 2;
    }
    if (o->batch < 1 || o->batch > 4096 || o->gen.max_new_tokens < 1 || o->gen.max_new_tokens > 100000 ||
        (o->gen.strategy == CLF_DECODE_BEAM && (o->gen.beam_size < 1 || o->gen.beam_size > 64))) {
        fprintf(stderr, "clformer run: --batch in 1..4096, --max-new in 1..100000, --beam in 1..64\n");
        return 2;
    }
    if (o->n_inputs == 0 || o->input) {
        FILE *f = stdin;
        if (o->input && strcmp(o->input, "-") != 0) f = fopen(o->input, "r");
        if (!f) {
            fprintf(stderr, "clformer run: cannot read %s: %s\n", o->input, strerror(errno));
            return 1;
        }
        int rc = read_lines(o, f);
        if (f != stdin) fclose(f);
        if (rc != 0) {
            fprintf(stderr, "clformer run: reading the inputs failed\n");
            return 1;
        }
    }
    return 0;
}

int cli_run(int argc, char **argv)
{
    run_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    clf_context *ctx = NULL;
    clf_model *m = NULL;
    clf_tokenizer *tok = NULL;
    int32_t *ids = NULL, *lengths32 = NULL, *out_ids = NULL;
    int64_t *lengths = NULL;
    float *vec = NULL;
    progress pr = {isatty(2) != 0, now_s()};
    if (rc != 0) goto done;
    rc = 1;

    /* Tokenizer: needed for text, unless generate is fed ids. */
    bool need_text = o.task != TASK_GENERATE || o.text;
    struct stat sb;
    bool is_dir = stat(o.model, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (need_text) {
        if (!is_dir) {
            fprintf(stderr, "clformer run: texts need a model folder with a WordPiece vocabulary; "
                            "%s is a file (generate takes token ids)\n", o.model);
            goto done;
        }
        clf_status st = clf_tokenizer_load(o.model, NULL, &tok);
        if (st != CLF_OK) {
            cli_fail("tokenizer", st, clf_context_last_error(NULL));
            fprintf(stderr, "clformer run: models without a WordPiece vocabulary take token ids: "
                            "use `generate` without --text\n");
            goto done;
        }
    }

    /* Encode every input first: the graphs are sized for the longest. */
    int64_t max_len = tok ? clf_tokenizer_max_length(tok) : 4096;
    ids = calloc((size_t)(o.n_inputs ? o.n_inputs : 1) * (size_t)max_len, sizeof *ids);
    lengths = calloc((size_t)(o.n_inputs ? o.n_inputs : 1), sizeof *lengths);
    if (!ids || !lengths) goto oom;
    int64_t longest = 1;
    for (int64_t i = 0; i < o.n_inputs; i++) {
        int32_t *row = ids + i * max_len;
        if (tok) {
            clf_status st = clf_tokenizer_encode(tok, o.inputs[i], strlen(o.inputs[i]), row, max_len, &lengths[i]);
            if (st != CLF_OK) {
                fprintf(stderr, "clformer run: input %lld: ", (long long)i + 1);
                cli_fail("tokenizer", st, clf_context_last_error(NULL));
                goto done;
            }
        } else {
            lengths[i] = parse_ids(o.inputs[i], row, max_len, INT32_MAX);
            if (lengths[i] < 1) {
                fprintf(stderr, "clformer run: input %lld: not a list of token ids: \"%.60s\"\n",
                        (long long)i + 1, o.inputs[i]);
                goto done;
            }
        }
        if (lengths[i] > longest) longest = lengths[i];
    }

    clf_context_params cp = clf_context_params_default();
    cp.device = o.device;
    clf_status st = clf_context_create(&cp, &ctx);
    if (st != CLF_OK) {
        cli_fail("device", st, clf_context_last_error(NULL));
        goto done;
    }
    clf_model_params mp = clf_model_params_default();
    mp.weight_dtype = o.f16 ? CLF_F16 : CLF_F32;
    int64_t beams = o.gen.strategy == CLF_DECODE_BEAM ? o.gen.beam_size : 1;
    mp.max_batch = (o.n_inputs < o.batch ? (o.n_inputs ? o.n_inputs : 1) : o.batch) * beams;
    mp.max_source_len = longest;
    mp.max_target_len = longest + o.gen.max_new_tokens + 1;
    if (pr.on) fprintf(stderr, "loading %s ...", o.model), fflush(stderr);
    double t_load = now_s();
    st = clf_model_load(ctx, o.model, &mp, &m);
    progress_end(&pr);
    if (st != CLF_OK) {
        cli_fail("model", st, clf_context_last_error(ctx));
        goto done;
    }
    const clf_model_config *cfg = clf_model_get_config(m);
    const clf_model_info *info = clf_model_get_info(m);
    if (pr.on)
        fprintf(stderr, "loaded %s (%s) in %.2f s on %s\n", o.model,
                info && info->architecture[0] ? info->architecture : "safetensors", now_s() - t_load,
                clf_context_device(ctx)->name);
    if (o.task != TASK_GENERATE && cfg->encoder_layers == 0) {
        fprintf(stderr, "clformer run: %s is a decoder-only model: use generate\n", o.model);
        goto done;
    }
    if (o.task == TASK_CLASSIFY && cfg->n_classes < 1) {
        fprintf(stderr, "clformer run: %s has no classification head (embed or generate)\n", o.model);
        goto done;
    }
    if (o.task == TASK_GENERATE && cfg->decoder_layers == 0) {
        fprintf(stderr, "clformer run: %s is an encoder-only model: use embed or classify\n", o.model);
        goto done;
    }
    if (o.task == TASK_GENERATE && cfg->kind == CLF_MODEL_DECODER) {
        for (int64_t i = 1; i < o.n_inputs; i++)
            if (lengths[i] != lengths[0] && o.batch > 1) {
                fprintf(stderr, "clformer run: decoder-only prompts in one batch must have equal "
                                "length (input %lld has %lld ids, input 1 has %lld): use --batch 1\n",
                        (long long)i + 1, (long long)lengths[i], (long long)lengths[0]);
                goto done;
            }
    }

    int64_t width = o.task == TASK_EMBED ? cfg->d_model : cfg->n_classes;
    vec = malloc((size_t)(o.batch * (width > 0 ? width : 1)) * sizeof *vec);
    lengths32 = malloc((size_t)o.batch * sizeof *lengths32);
    out_ids = malloc((size_t)(o.batch * o.gen.max_new_tokens) * sizeof *out_ids);
    int32_t *packed = malloc((size_t)(o.batch * longest) * sizeof *packed);
    if (!vec || !lengths32 || !out_ids || !packed) {
        free(packed);
        goto oom;
    }
    pr.t0 = now_s();
    for (int64_t b0 = 0; b0 < o.n_inputs; b0 += o.batch) {
        int64_t B = o.n_inputs - b0 < o.batch ? o.n_inputs - b0 : o.batch, S = 1;
        for (int64_t i = 0; i < B; i++)
            if (lengths[b0 + i] > S) S = lengths[b0 + i];
        int32_t pad = tok ? clf_tokenizer_special_id(tok, CLF_TOKEN_PAD) : cfg->pad_id;
        for (int64_t i = 0; i < B; i++) {
            for (int64_t t = 0; t < S; t++)
                packed[i * S + t] = t < lengths[b0 + i] ? ids[(b0 + i) * max_len + t] : (pad >= 0 ? pad : 0);
            lengths32[i] = (int32_t)lengths[b0 + i];
        }
        if (o.task == TASK_GENERATE) {
            clf_generate_output out = {.ids = out_ids, .lengths = NULL};
            int32_t *gl = malloc((size_t)B * sizeof *gl);
            out.lengths = gl;
            st = gl ? clf_model_generate(m, packed, cfg->kind == CLF_MODEL_DECODER ? NULL : lengths32, B, S,
                                         &o.gen, &out)
                    : CLF_ERR_OUT_OF_MEMORY;
            for (int64_t i = 0; st == CLF_OK && i < B; i++)
                print_ids(&o, b0 + i, o.inputs[b0 + i], out_ids + i * o.gen.max_new_tokens, gl[i]);
            free(gl);
        } else {
            st = clf_model_encode(m, packed, lengths32, B, S, CLF_POOL_DEFAULT, NULL,
                                  o.task == TASK_EMBED ? vec : NULL, o.task == TASK_CLASSIFY ? vec : NULL);
            if (st == CLF_ERR_INVALID_ARG && o.task == TASK_EMBED && info && info->pooling == CLF_POOL_NONE)
                st = clf_model_encode(m, packed, lengths32, B, S, CLF_POOL_MEAN, NULL, vec, NULL);
            for (int64_t i = 0; st == CLF_OK && i < B; i++) {
                if (o.task == TASK_EMBED) print_vector(&o, b0 + i, o.inputs[b0 + i], vec + i * width, width);
                else print_classes(&o, info, b0 + i, o.inputs[b0 + i], vec + i * width, width);
            }
        }
        if (st != CLF_OK) {
            progress_end(&pr);
            free(packed);
            cli_fail(o.task == TASK_GENERATE ? "generate" : "encode", st, clf_context_last_error(ctx));
            goto done;
        }
        fflush(stdout);
        progress_draw(&pr, o.task == TASK_EMBED ? "embed" : o.task == TASK_CLASSIFY ? "classify" : "generate",
                      b0 + B, o.n_inputs);
    }
    progress_end(&pr);
    free(packed);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "clformer run: out of host memory\n");
    rc = 1;
done:
    free(ids);
    free(lengths);
    free(lengths32);
    free(out_ids);
    free(vec);
    for (int64_t i = 0; i < o.n_inputs; i++) free(o.inputs[i]);
    free(o.inputs);
    clf_tokenizer_free(tok);
    clf_model_free(m);
    clf_context_free(ctx);
    return rc;
}
