/*
 * `clformer run --model DIR <embed|classify|generate> [TEXT...]`: runs a
 * model folder (HuggingFace or sentence-transformers; or a clformer
 * safetensors file) on texts or token ids given as arguments, or one per
 * line from --input FILE or standard input, in batches.
 *
 * It streams. The options are checked (run_args.c), the input opened, the
 * device and the model loaded before any input line is read; then a batch
 * of --batch inputs is read, run, printed and flushed before the next one is
 * read. Memory does not grow with the input (a million-line file used to be
 * read, tokenised and held whole before the device was even opened), and
 * results appear while the input is still being written. The model's
 * maxima (source and target lengths) start small and the model is loaded
 * again, larger, when a batch needs more: sizing them for the longest input
 * would need the whole input first.
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
#include "cli/cli_args.h"
#include "cli/cli_json.h"
#include "cli/run_text.h"

void cli_run_usage(FILE *out)
{
    fprintf(
        out,
        "usage: clformer run --model DIR [options] <embed|classify|generate|translate> "
        "[INPUT...]\n\n"
        "Runs a model folder (HuggingFace config.json + safetensors, or a\n"
        "sentence-transformers folder) on each INPUT, or on each line of --input FILE\n"
        "or of standard input when no INPUT is given. Lines are read --batch at a time,\n"
        "and each batch's results are printed before the next is read. A line with a\n"
        "NUL byte is refused. Use -- before inputs that begin with '-'.\n"
        "  embed      text in, one vector per input out (the model's pooling;\n"
        "             L2-normalised for sentence-transformers)\n"
        "  classify   text in, the best label and every label's probability out\n"
        "  generate   text in, text out, with the folder's tokenizer (tokenizer.json,\n"
        "             vocab.json + merges.txt, vocab.txt, or Marian's source.spm /\n"
        "             target.spm): an encoder-decoder's output, or a decoder-only\n"
        "             model's prompt followed by its continuation (as transformers'\n"
        "             text-generation pipeline prints it). Token ids in and out with\n"
        "             --ids, and for a folder without a tokenizer (\"5 17 33\")\n"
        "  translate  generate for encoder-decoder models, searching with the\n"
        "             generation config's num_beams, or 4 beams when it has none\n"
        "options:\n"
        "  --model DIR      the model folder (or a clformer .safetensors file)\n"
        "  --device SPEC    best, gpu, cpu, P:D or a name (default: CLFORMER_DEVICE or best)\n"
        "  --input FILE     read inputs from FILE, one per line (\"-\" = standard input)\n"
        "  --batch N        inputs per batch, 1..4096 (default 32)\n"
        "  --json           one JSON object per input on standard output\n"
        "  --weights T      weight storage: f32 (default), f16 (half the memory), q8\n"
        "                   (int8 layer matrices, embeddings and head f16: about a third)\n"
        "                   or q4 (4-bit groups of 32 in the layer matrices, else as q8)\n"
        "  --f16            the same as --weights f16\n"
        "generate and translate (defaults: the folder's generation_config.json, else\n"
        "transformers' defaults; these options replace them):\n"
        "  --ids            token ids in and out, even where the folder has a tokenizer\n"
        "  --text           inputs must be texts (fail when the folder has no tokenizer)\n"
        "  --max-new N      tokens to generate per input, 1..100000 (default: the config's\n"
        "                   max_new_tokens or max_length, else 32); fewer when prompt + new\n"
        "                   would pass the model's positions: generation stops there\n"
        "                   (\"finish\": \"positions\" in --json)\n"
        "  --beam K         beam search of width K, 1..64 (1 = greedy; default: the config's\n"
        "                   num_beams)\n"
        "  --sample         sample, with --temperature T (> 0), --top-k K (>= 0, 0 = all),\n"
        "                   --top-p P (in (0, 1]) and --seed S (0..2^53)\n"
        "  --ignore-eos     keep generating after the end-of-sequence token\n"
        "With --json, generate prints {\"text\", \"ids\", \"score\", \"logprob\", \"finish\"} per\n"
        "input. When standard output is a terminal, text is printed as it is generated\n"
        "(greedy and sampling; --batch defaults to 1 then), and a progress line is drawn\n"
        "on standard error when it is a terminal.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- progress ---- */

typedef struct progress {
    bool on;
    double t0;
} progress;

/* Inputs done and their rate (the total is unknown while streaming). */
static void progress_draw(const progress *p, const char *what, int64_t done)
{
    if (!p->on) return;
    double el = now_s() - p->t0;
    fprintf(stderr, "\r\033[K%s: %lld inputs  %.1f s", what, (long long)done, el);
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

/* The start of input index's JSON line: {"index": index, "input": text}. */
static json_object *line_json(int64_t index, const char *text)
{
    json_object *o = cli_json_object();
    cli_json_set(o, "index", cli_json_int(index));
    cli_json_set(o, "input", cli_json_string(text));
    return o;
}

/* Each printer returns 0, or 1 when the JSON line could not be written. */
static int print_vector(const cli_run_opts *o, int64_t index, const char *text, const float *v,
                        int64_t n)
{
    if (o->json) {
        json_object *line = line_json(index, text), *vec = cli_json_array();
        for (int64_t i = 0; i < n; i++) cli_json_push(vec, cli_json_float(v[i]));
        cli_json_set(line, "embedding", vec);
        return cli_json_write(stdout, line, CLI_JSON_LINE, "run");
    }
    for (int64_t i = 0; i < n; i++) printf("%s%.8g", i ? " " : "", (double)v[i]);
    printf("\n");
    return 0;
}

static int print_classes(const cli_run_opts *o, const clf_model_info *info, int64_t index,
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
        /* NaN logits (a broken model) give NaN probabilities: null. */
        json_object *line = line_json(index, text), *scores = cli_json_object();
        cli_json_set(line, "label", cli_json_string(LABEL(best)));
        for (int64_t i = 0; i < c; i++)
            cli_json_set(scores, LABEL(i), cli_json_number(exp((double)logits[i] - mx) / sum));
        cli_json_set(line, "scores", scores);
        return cli_json_write(stdout, line, CLI_JSON_LINE, "run");
    }
    printf("%s\t%.4f", LABEL(best), exp((double)logits[best] - mx) / sum);
    for (int64_t i = 0; i < c; i++) printf("\t%s=%.4f", LABEL(i), exp((double)logits[i] - mx) / sum);
    printf("\n");
    return 0;
#undef LABEL
}

static const char *finish_name(clf_finish_reason f)
{
    switch (f) {
    case CLF_FINISH_EOS: return "eos";
    case CLF_FINISH_MAX_NEW: return "max_new";
    case CLF_FINISH_POSITIONS: return "positions";
    default: return "none";
    }
}

/* One generated result: its text (out_text, NULL in --ids mode; already on
 * the terminal when streamed), its ids, scores and why it stopped. */
typedef struct gen_result {
    const int32_t *ids;
    int64_t n;
    const char *text;
    size_t text_len;
    bool streamed;
    float score, logprob;
    clf_finish_reason finish;
} gen_result;

static int print_generated(const cli_run_opts *o, int64_t index, const char *input,
                           const gen_result *g)
{
    if (o->json) {
        json_object *line = line_json(index, input), *arr = cli_json_array();
        if (g->text) cli_json_set(line, "text", cli_json_string(g->text));
        for (int64_t i = 0; i < g->n; i++)
            cli_json_push(arr, cli_json_int(g->ids[i]));
        cli_json_set(line, "ids", arr);
        cli_json_set(line, "score", cli_json_float(g->score));
        cli_json_set(line, "logprob", cli_json_float(g->logprob));
        cli_json_set(line, "finish", cli_json_string(finish_name(g->finish)));
        return cli_json_write(stdout, line, CLI_JSON_LINE, "run");
    }
    if (g->streamed) return 0;
    if (g->text) {
        fwrite(g->text, 1, g->text_len, stdout);
        printf("\n");
        return 0;
    }
    for (int64_t i = 0; i < g->n; i++)
        printf("%s%d", i ? " " : "", g->ids[i]);
    printf("\n");
    return 0;
}

/* ---- the run ---- */

typedef struct run {
    cli_run_opts o;
    FILE *in;         /* the input lines; NULL when the inputs are arguments only */
    int64_t next_arg; /* next argument input */
    int64_t line_no;  /* lines read */
    int64_t done;     /* inputs run (the next input's index) */
    char *line;
    size_t line_cap;
    clf_context *ctx;
    clf_tokenizer *tok;
    char tok_note[512];      /* generate: why the folder has no tokenizer ("" = it has one) */
    clf_generate_params gen; /* generate: the model's settings with the options' */
    bool gen_ready;          /* gen holds them: a reload takes them again (they point into
                                the model: bad_words_ids) */
    bool stream;             /* generate: text to a terminal as it is generated */
    cli_stream streamer;
    clf_model *m;
    const clf_model_config *cfg;
    const clf_model_info *info;
    int64_t max_batch, cap_src, cap_tgt; /* the loaded model's maxima */
    int64_t positions; /* the model's position limit (INT64_MAX: none) */
    int64_t row;       /* ids one input may have */
    bool noted_limit;  /* the "stopped at the positions" note was printed */
    /* One batch of B <= o.batch inputs. */
    char **texts;              /* (batch) copies of the inputs */
    size_t *text_cap;          /* (batch) */
    int32_t *ids;              /* (batch, row) */
    int32_t *lens;             /* (batch) */
    int32_t *packed;           /* (batch, S <= row): ids right-padded to the batch's longest */
    float *vec;                /* (batch, D or classes) */
    int32_t *out_ids;          /* (batch, max_new) */
    int32_t *out_len;          /* (batch) */
    float *scores, *logprobs;  /* (batch) */
    clf_finish_reason *finish; /* (batch) */
    progress pr;
} run;

static int oom(void)
{
    fprintf(stderr, "clformer run: out of host memory\n");
    return 1;
}

/* Loads (or loads again, larger) the model with maxima src and tgt. */
static int load_model(run *r, int64_t src, int64_t tgt)
{
    clf_model_free(r->m);
    r->m = NULL;
    clf_model_params mp = clf_model_params_default();
    mp.weight_dtype = r->o.weights;
    mp.max_batch = r->max_batch;
    mp.max_source_len = src;
    mp.max_target_len = tgt;
    if (r->pr.on) fprintf(stderr, "loading %s ...", r->o.model), fflush(stderr);
    double t0 = now_s();
    clf_status st = clf_model_load(r->ctx, r->o.model, &mp, &r->m);
    progress_end(&r->pr);
    if (st != CLF_OK) return cli_fail("model", st, clf_context_last_error(r->ctx));
    r->cfg = clf_model_get_config(r->m);
    r->info = clf_model_get_info(r->m);
    r->positions = clf_model_max_new_tokens(r->m, 0);
    /* What the model holds: the library clamps maxima to a learned table. */
    r->cap_src = src < r->positions ? src : r->positions;
    r->cap_tgt = tgt < r->positions ? tgt : r->positions;
    /* The settings' bad_words_ids point into the model just freed. */
    if (r->gen_ready && (st = cli_gen_settings(&r->o, r->m, &r->gen)) != CLF_OK)
        return cli_fail("generation config", st, clf_context_last_error(r->ctx));
    if (r->pr.on)
        fprintf(stderr, "loaded %s (%s) in %.2f s on %s\n", r->o.model,
                r->info && r->info->architecture[0] ? r->info->architecture : "safetensors",
                now_s() - t0, clf_context_device(r->ctx)->name);
    return 0;
}

/* The device, the tokenizer and the model, before any input is read. */
static int open_all(run *r)
{
    const cli_run_opts *o = &r->o;
    if (o->read_lines) {
        r->in = strcmp(o->input, "-") == 0 ? stdin : fopen(o->input, "r");
        if (!r->in) {
            fprintf(stderr, "clformer run: cannot read %s: %s\n", o->input, strerror(errno));
            return 1;
        }
    }
    clf_context_params cp = clf_context_params_default();
    cp.device = o->device;
    clf_status st = clf_context_create(&cp, &r->ctx);
    if (st != CLF_OK) return cli_fail("device", st, clf_context_last_error(NULL));
    /* Tokenizer: needed for text; generate takes token ids with --ids, and
     * from a folder without a tokenizer (unless --text). */
    bool gen = o->task == CLI_TASK_GENERATE, ids_ok = gen && !o->text;
    if (!gen || !o->ids) {
        struct stat sb;
        bool dir = stat(o->model, &sb) == 0 && S_ISDIR(sb.st_mode);
        st = dir ? clf_tokenizer_load(o->model, NULL, &r->tok) : CLF_ERR_NOT_FOUND;
        /* No vocabulary to read (NOT_FOUND) or one of a kind not read
         * (UNSUPPORTED): generate falls back to ids; a broken one fails. */
        bool none = st == CLF_ERR_NOT_FOUND || st == CLF_ERR_UNSUPPORTED;
        if (st != CLF_OK && none && ids_ok) {
            snprintf(r->tok_note, sizeof r->tok_note, "%s",
                     dir ? clf_context_last_error(NULL) : "not a folder");
        } else if (!dir) {
            fprintf(stderr,
                    "clformer run: texts need a model folder with a tokenizer; %s is not "
                    "a folder (generate takes token ids)\n",
                    o->model);
            return 1;
        } else if (st != CLF_OK) {
            cli_fail("tokenizer", st, clf_context_last_error(NULL));
            if (none)
                fprintf(stderr, "clformer run: models without a tokenizer take token ids: use "
                                "`generate` without --text\n");
            return 1;
        }
    }
    /* A terminal reads one result at a time, and streams need batches of 1. */
    if (gen && !o->batch_set && !o->json && isatty(1)) r->o.batch = 1;
    int64_t beams = o->gen.strategy == CLF_DECODE_BEAM ? o->gen.beam_size : 1;
    int64_t batch = !o->read_lines && o->n_inputs < o->batch ? o->n_inputs : o->batch;
    r->max_batch = batch * beams;
    /* Small first maxima: inputs are short more often than not (see the
     * file comment for why they may grow). */
    if (load_model(r, 64, 32 + o->gen.max_new_tokens) != 0) return 1;
    const clf_model_config *cfg = r->cfg;
    if (o->task != CLI_TASK_GENERATE && cfg->encoder_layers == 0) {
        fprintf(stderr, "clformer run: %s is a decoder-only model: use generate\n", o->model);
        return 1;
    }
    if (o->task == CLI_TASK_CLASSIFY && cfg->n_classes < 1) {
        fprintf(stderr, "clformer run: %s has no classification head (embed or generate)\n",
                o->model);
        return 1;
    }
    if (o->task == CLI_TASK_GENERATE && cfg->decoder_layers == 0) {
        fprintf(stderr, "clformer run: %s is an encoder-only model: use embed or classify\n",
                o->model);
        return 1;
    }
    if (o->translate && cfg->kind != CLF_MODEL_ENCODER_DECODER) {
        fprintf(stderr,
                "clformer run: translate needs an encoder-decoder model (BART, Marian, "
                "...); %s is decoder-only: use generate\n",
                o->model);
        return 1;
    }
    if (gen) {
        /* Decoder-only prompts of one batch must have one length (texts
         * seldom do): one at a time unless --batch says otherwise. */
        if (!o->batch_set && cfg->kind == CLF_MODEL_DECODER) r->o.batch = 1;
        if ((st = cli_gen_settings(o, r->m, &r->gen)) != CLF_OK)
            return cli_fail("generation config", st, clf_context_last_error(r->ctx));
        r->gen_ready = true;
        /* The model's num_beams may need more rows than the first load has. */
        int64_t k = r->gen.strategy == CLF_DECODE_BEAM ? r->gen.beam_size : 1;
        if (batch * k > r->max_batch) {
            r->max_batch = batch * k;
            if (load_model(r, r->cap_src, r->cap_tgt) != 0) return 1;
            cfg = r->cfg;
        }
        r->stream =
            r->tok && !o->ids && !o->json && isatty(1) && r->gen.strategy != CLF_DECODE_BEAM;
    }
    /* Token ids given as text: as many as the positions, up to 8192. */
    r->row = r->tok ? clf_tokenizer_max_length(r->tok) : r->positions < 8192 ? r->positions : 8192;
    int64_t B = o->batch, n_new = gen ? cli_gen_max_new(&r->gen, 1) : 1,
            width = o->task == CLI_TASK_EMBED ? cfg->d_model : cfg->n_classes;
    r->texts = calloc((size_t)B, sizeof *r->texts);
    r->text_cap = calloc((size_t)B, sizeof *r->text_cap);
    r->ids = malloc((size_t)(B * r->row) * sizeof *r->ids);
    r->lens = malloc((size_t)B * sizeof *r->lens);
    r->packed = malloc((size_t)(B * r->row) * sizeof *r->packed);
    r->vec = malloc((size_t)(B * (width > 0 ? width : 1)) * sizeof *r->vec);
    r->out_ids = malloc((size_t)(B * n_new) * sizeof *r->out_ids);
    r->scores = malloc((size_t)B * sizeof *r->scores);
    r->logprobs = malloc((size_t)B * sizeof *r->logprobs);
    r->out_len = malloc((size_t)B * sizeof *r->out_len);
    r->finish = malloc((size_t)B * sizeof *r->finish);
    if (!r->texts || !r->text_cap || !r->ids || !r->lens || !r->packed || !r->vec || !r->out_ids ||
        !r->out_len || !r->finish || !r->scores || !r->logprobs)
        return oom();
    return 0;
}

/* The next input: the arguments first, then the lines. 1, 0 at the end, -1
 * on an error (printed). */
static int next_input(run *r, const char **text, size_t *len)
{
    if (r->next_arg < r->o.n_inputs) {
        *text = r->o.inputs[r->next_arg++];
        *len = strlen(*text);
        return 1;
    }
    if (!r->in) return 0;
    char err[256];
    int got = cli_read_line(r->in, &r->line, &r->line_cap, len, r->line_no + 1, err, sizeof err);
    if (got < 0) fprintf(stderr, "clformer run: %s\n", err);
    if (got > 0) {
        r->line_no++;
        *text = r->line;
    }
    return got;
}

/* Token ids of input i of the batch (its copy in r->texts[i]) into its row. */
static int encode_input(run *r, int64_t i)
{
    int64_t index = r->done + i, n = 0;
    const char *text = r->texts[i];
    int32_t *row = r->ids + i * r->row;
    char err[256];
    if (r->tok) {
        clf_status st = clf_tokenizer_encode(r->tok, text, strlen(text), row, r->row, &n);
        if (st != CLF_OK) {
            fprintf(stderr, "clformer run: input %lld: ", (long long)index + 1);
            return cli_fail("tokenizer", st, clf_context_last_error(NULL));
        }
    } else if ((n = cli_parse_ids(text, row, r->row, r->cfg->vocab, err, sizeof err)) < 0) {
        fprintf(stderr, "clformer run: input %lld: %s\n", (long long)index + 1, err);
        if (r->tok_note[0])
            fprintf(stderr,
                    "clformer run: %s has no tokenizer that clformer reads, so it takes "
                    "token ids, not text (tokenizer: %s)\n",
                    r->o.model, r->tok_note);
        return 1;
    }
    if (n == 0 && r->cfg->kind == CLF_MODEL_DECODER) {
        fprintf(stderr,
                "clformer run: input %lld has no tokens: a decoder-only model needs a "
                "prompt\n",
                (long long)index + 1);
        return 1;
    }
    /* Every input fills positions: an encoder's source, a decoder's prompt. */
    if (n > r->positions) {
        fprintf(stderr, "clformer run: input %lld has %lld tokens; the model has %lld positions\n",
                (long long)index + 1, (long long)n, (long long)r->positions);
        return 1;
    }
    r->lens[i] = (int32_t)n;
    return 0;
}

/* Reads up to o.batch inputs into the batch: *B of them (0 at the end). */
static int read_batch(run *r, int64_t *B)
{
    *B = 0;
    while (*B < r->o.batch) {
        const char *text;
        size_t len;
        int got = next_input(r, &text, &len);
        if (got < 0) return 1;
        if (got == 0) break;
        int64_t i = *B;
        if (r->text_cap[i] < len + 1) {
            char *c = realloc(r->texts[i], len + 1);
            if (!c) return oom();
            r->texts[i] = c;
            r->text_cap[i] = len + 1;
        }
        memcpy(r->texts[i], text, len + 1);
        if (encode_input(r, i) != 0) return 1;
        (*B)++;
    }
    return 0;
}

/* Loads the model again with larger maxima when the batch (longest input
 * S) needs more than it has: at least double, at most the positions. */
static int fit_batch(run *r, int64_t S)
{
    bool gen = r->o.task == CLI_TASK_GENERATE;
    bool encdec = r->cfg->kind == CLF_MODEL_ENCODER_DECODER;
    int64_t need_src = !gen || encdec ? S : 1, need_tgt = 1;
    if (gen) {
        /* The library's rule (model.h): prompt + new <= the positions, and
         * the cache holds all but the last token. */
        int64_t prompt = encdec ? 1 : S, fit = clf_model_max_new_tokens(r->m, prompt);
        int64_t want = cli_gen_max_new(&r->gen, prompt), n_new = want < fit ? want : fit;
        need_tgt = prompt + n_new - 1 > 1 ? prompt + n_new - 1 : 1;
    }
    if (need_src <= r->cap_src && need_tgt <= r->cap_tgt) return 0;
    int64_t src = r->cap_src, tgt = r->cap_tgt;
    if (need_src > src) src = 2 * src < r->positions ? 2 * src : r->positions;
    if (need_tgt > tgt) tgt = 2 * tgt < r->positions ? 2 * tgt : r->positions;
    return load_model(r, src > need_src ? src : need_src, tgt > need_tgt ? tgt : need_tgt);
}

/* Runs the batch's B inputs and prints their results. */
static int run_batch(run *r, int64_t B)
{
    const cli_run_opts *o = &r->o;
    int64_t S = 1;
    for (int64_t i = 0; i < B; i++)
        S = r->lens[i] > S ? r->lens[i] : S;
    bool decoder_only = r->cfg->kind == CLF_MODEL_DECODER;
    for (int64_t i = 1; o->task == CLI_TASK_GENERATE && decoder_only && i < B; i++)
        if (r->lens[i] != r->lens[0]) {
            fprintf(stderr, "clformer run: decoder-only prompts in one batch must have equal "
                            "length (input %lld has %lld ids, input %lld has %lld): use --batch 1\n",
                    (long long)(r->done + i + 1), (long long)r->lens[i], (long long)(r->done + 1),
                    (long long)r->lens[0]);
            return 1;
        }
    if (fit_batch(r, S) != 0) return 1;
    const clf_model_config *cfg = r->cfg; /* after fit_batch: a new model may have come */
    int32_t pad = r->tok ? clf_tokenizer_special_id(r->tok, CLF_TOKEN_PAD) : cfg->pad_id;
    for (int64_t i = 0; i < B; i++)
        for (int64_t t = 0; t < S; t++)
            r->packed[i * S + t] = t < r->lens[i] ? r->ids[i * r->row + t] : (pad >= 0 ? pad : 0);
    clf_status st;
    if (o->task == CLI_TASK_GENERATE) {
        /* max_length resolved here, so that the output rows' width is known */
        clf_generate_params g = r->gen;
        g.max_new_tokens = cli_gen_max_new(&r->gen, decoder_only ? S : 1);
        g.max_length = 0;
        bool stream = r->stream && B == 1;
        if (stream) {
            if (cli_stream_begin(&r->streamer, r->tok, stdout, r->texts[0],
                                 decoder_only ? r->packed : NULL, S) != 0)
                return 1;
            g.on_token = cli_stream_token;
            g.user = &r->streamer;
        }
        clf_generate_output out = {r->out_ids, r->out_len, r->scores, r->logprobs, r->finish};
        st = clf_model_generate(r->m, r->packed, decoder_only ? NULL : r->lens, B, S, &g, &out);
        if (stream && cli_stream_end(&r->streamer) != 0) return 1;
        for (int64_t i = 0; st == CLF_OK && i < B; i++) {
            gen_result res = {r->out_ids + i * g.max_new_tokens,
                              r->out_len[i],
                              NULL,
                              0,
                              stream,
                              r->scores[i],
                              r->logprobs[i],
                              r->finish[i]};
            char *text = NULL;
            if (r->tok && !o->ids &&
                cli_result_text(r->tok, r->texts[i], decoder_only ? r->packed + i * S : NULL, S,
                                res.ids, res.n, &text, &res.text_len) != 0)
                return 1;
            res.text = text;
            int rc = print_generated(o, r->done + i, r->texts[i], &res);
            free(text);
            if (rc != 0) return 1;
            if (r->finish[i] == CLF_FINISH_POSITIONS && !r->noted_limit && !o->json) {
                r->noted_limit = true;
                fprintf(stderr, "clformer run: input %lld: stopped after %d new tokens at the "
                                "model's %lld positions (prompt + new)\n",
                        (long long)(r->done + i + 1), r->out_len[i], (long long)r->positions);
            }
        }
    } else {
        int64_t width = o->task == CLI_TASK_EMBED ? cfg->d_model : cfg->n_classes;
        float *pooled = o->task == CLI_TASK_EMBED ? r->vec : NULL;
        float *classes = o->task == CLI_TASK_CLASSIFY ? r->vec : NULL;
        st = clf_model_encode(r->m, r->packed, r->lens, B, S, CLF_POOL_DEFAULT, NULL, pooled,
                              classes);
        /* A bare encoder (no pooling of its own) embeds by the mean. */
        if (st == CLF_ERR_INVALID_ARG && pooled && r->info && r->info->pooling == CLF_POOL_NONE)
            st = clf_model_encode(r->m, r->packed, r->lens, B, S, CLF_POOL_MEAN, NULL, pooled, NULL);
        for (int64_t i = 0; st == CLF_OK && i < B; i++) {
            int rc = pooled ? print_vector(o, r->done + i, r->texts[i], r->vec + i * width, width)
                            : print_classes(o, r->info, r->done + i, r->texts[i],
                                            r->vec + i * width, width);
            if (rc != 0) return 1;
        }
    }
    if (st != CLF_OK) {
        progress_end(&r->pr);
        return cli_fail(o->task == CLI_TASK_GENERATE ? "generate" : "encode", st,
                        clf_context_last_error(r->ctx));
    }
    fflush(stdout); /* this batch's results now, before the next is read */
    r->done += B;
    progress_draw(&r->pr, o->task == CLI_TASK_EMBED      ? "embed"
                          : o->task == CLI_TASK_CLASSIFY ? "classify"
                                                         : "generate",
                  r->done);
    return 0;
}

static void run_free(run *r)
{
    if (r->in && r->in != stdin) fclose(r->in);
    free(r->line);
    for (int64_t i = 0; r->texts && i < r->o.batch; i++) free(r->texts[i]);
    free(r->texts);
    free(r->text_cap);
    free(r->ids);
    free(r->lens);
    free(r->packed);
    free(r->vec);
    free(r->out_ids);
    free(r->out_len);
    free(r->finish);
    free(r->scores);
    free(r->logprobs);
    clf_tokenizer_free(r->tok);
    clf_model_free(r->m);
    clf_context_free(r->ctx);
}

int cli_run(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    char err[512];
    if (cli_run_parse(argc, argv, &r.o, err, sizeof err) != 0) {
        fprintf(stderr, "clformer run: %s\n(`clformer run --help` lists the options)\n", err);
        return 2;
    }
    r.pr.on = isatty(2) != 0;
    int rc = open_all(&r);
    r.pr.t0 = now_s();
    int64_t B = 0;
    while (rc == 0 && (rc = read_batch(&r, &B)) == 0 && B > 0)
        rc = run_batch(&r, B);
    progress_end(&r.pr);
    run_free(&r);
    return rc;
}
