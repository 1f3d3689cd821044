/*
 * `clformer run generate / translate`: the generation settings (the model's
 * own, then the command line's) and the text side of a result (decoding,
 * streaming to a terminal). Used by cmd_run.c only.
 */
#ifndef CLF_RUN_TEXT_H
#define CLF_RUN_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <clformer/clformer.h>

#include "cli/cli_args.h"

/* The settings of a run: clf_model_generate_defaults(m) (the folder's
 * generation_config.json, or transformers' defaults), then what the command
 * line gave (o->gen_set; seed and ignore_eos always). `translate` without
 * --beam / --sample searches with the generation config's num_beams when it
 * is above 1, else with 4 beams (what Marian and most translation checkpoints
 * ship). A model not from a folder, with neither max_new_tokens nor
 * max_length, generates 32 tokens (the command's default before the
 * generation configs). Returns CLF_OK, or the status of
 * clf_model_generate_defaults (message in the context's last error). */
clf_status cli_gen_settings(const cli_run_opts *o, const clf_model *m, clf_generate_params *g);

/* The new tokens asked for after a prompt of prompt_len ids (1 = the start
 * token of an encoder-decoder): g->max_new_tokens, or max_length - prompt_len
 * (at least 1) when only max_length is set, as transformers counts it. */
int64_t cli_gen_max_new(const clf_generate_params *g, int64_t prompt_len);

/* The text of one result, in a new buffer (*text, NUL-terminated, *len
 * bytes; the caller frees it), special tokens left out:
 *   - encoder-decoder (prompt NULL): decode(new ids);
 *   - decoder-only: what transformers' pipeline("text-generation") prints
 *     by default (return_full_text=True): prompt_text, then
 *     decode(prompt ids + new ids) past the length of decode(prompt ids).
 * Returns 0, or 1 after printing the error. */
int cli_result_text(const clf_tokenizer *tok, const char *prompt_text, const int32_t *prompt,
                    int64_t n_prompt, const int32_t *ids, int64_t n_ids, char **text, size_t *len);

/* Streaming one sequence to out as it is generated: cli_stream_begin prints
 * the prompt text (decoder-only; prompt NULL for an encoder-decoder) and
 * feeds the prompt ids to the detokenizer without printing them;
 * cli_stream_token (clf_generate_params.on_token, user = the stream) prints
 * each token's complete text and flushes; cli_stream_end prints what was held
 * back and a newline. Decoding errors end the stream's printing
 * (stream->failed); cli_stream_end returns 1 then. */
typedef struct cli_stream {
    clf_detokenizer *d;
    FILE *out;
    bool failed;
} cli_stream;

int cli_stream_begin(cli_stream *s, const clf_tokenizer *tok, FILE *out, const char *prompt_text,
                     const int32_t *prompt, int64_t n_prompt);
void cli_stream_token(void *user, int64_t seq, int64_t step, int32_t token);
int cli_stream_end(cli_stream *s);

#endif
