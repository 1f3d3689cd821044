/*
 * clformer tokenizer: BERT WordPiece text -> token ids, the same ids as
 * HuggingFace `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece +
 * the [CLS] A [SEP] template) for BERT, MiniLM and their relatives.
 *
 * Pipeline of one text:
 *   1. Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK], and the other
 *      added tokens of a tokenizer.json) written in the raw text are matched
 *      first, leftmost-longest, and become their own ids.
 *   2. The rest is normalised: clean_text drops NUL, U+FFFD and characters of
 *      category Cc (except tab, LF, CR), Cf, Co and Cs, and maps whitespace
 *      (Zs, Zl, Zp, tab, LF, VT, FF, CR) to a space; CJK ideographs get a
 *      space on each side (HF's ranges); strip_accents is NFD then dropping
 *      Mn marks; lowercase is the Unicode lowercase mapping.
 *   3. Words are split on whitespace, and every punctuation character (P*
 *      categories and ASCII 33-47, 58-64, 91-96, 123-126) is a word of its
 *      own.
 *   4. WordPiece: greedy longest-match-first against the vocabulary, pieces
 *      after the first carry the "##" prefix; a word longer than
 *      max_input_chars_per_word (100) characters, or one that cannot be
 *      covered, becomes one [UNK].
 *   5. With special tokens: [CLS] ids [SEP], truncated to max_length so that
 *      [SEP] stays last.
 * Unicode data (categories, NFD, case) comes from utf8proc, JSON from json-c.
 *
 * Input text must be valid UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF); otherwise the call fails with CLF_ERR_INVALID_ARG
 * and the message names the byte offset. Text may contain NUL bytes when its
 * length is given.
 *
 * Threads: a tokenizer is immutable after loading: any number of threads may
 * use it at once (it has no context). clf_tokenizer_free must not overlap
 * another call on it. Errors are reported through
 * clf_context_last_error(NULL) (the calling thread's last error).
 */
#ifndef CLFORMER_TOKENIZER_H
#define CLFORMER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_tokenizer clf_tokenizer; /* opaque */

/* A setting that the tokenizer files may decide. */
typedef enum clf_tokenizer_flag {
    CLF_TOKENIZER_AUTO = 0, /* as the files say (see each field) */
    CLF_TOKENIZER_ON = 1,
    CLF_TOKENIZER_OFF = 2,
} clf_tokenizer_flag;

typedef struct clf_tokenizer_params {
    /* AUTO = tokenizer.json's BertNormalizer "lowercase", else
     * tokenizer_config.json "do_lower_case", else ON. */
    clf_tokenizer_flag lowercase;
    /* AUTO = the files' "strip_accents" when it is a boolean, else follow
     * lowercase (as HF's BertNormalizer does). */
    clf_tokenizer_flag strip_accents;
    /* AUTO = the files' "handle_chinese_chars" / "tokenize_chinese_chars",
     * else ON. */
    clf_tokenizer_flag tokenize_chinese_chars;
    /* Most ids one encoded text may have, special tokens included; >= 2 when
     * special tokens are added, >= 1 otherwise. 0 = the folder's
     * sentence_bert_config.json "max_seq_length" (sentence-transformers
     * truncate there: 256 for all-MiniLM-L6-v2), else tokenizer_config.json's
     * "model_max_length" when it is in 1..1,000,000, else 512. */
    int64_t max_length;
    /* true = encode without [CLS] and [SEP] (default false: add them). */
    bool no_special_tokens;
} clf_tokenizer_params;

/* Which special token clf_tokenizer_special_id() returns. */
typedef enum clf_special_token {
    CLF_TOKEN_PAD = 0,
    CLF_TOKEN_UNK = 1,
    CLF_TOKEN_CLS = 2,
    CLF_TOKEN_SEP = 3,
    CLF_TOKEN_MASK = 4,
} clf_special_token;

/* The defaults (every field zero / AUTO). Thread-safe. */
CLF_API clf_tokenizer_params clf_tokenizer_params_default(void);

/* Loads a WordPiece tokenizer. path is one of:
 *   - a model folder: its tokenizer.json when present, else its vocab.txt;
 *   - a tokenizer.json file (HF `tokenizers` format, model type WordPiece);
 *   - a vocab.txt file (one token per line, the line number is its id).
 * tokenizer_config.json and special_tokens_map.json next to the file are read
 * when present (do_lower_case, strip_accents, tokenize_chinese_chars,
 * model_max_length, and the special tokens' strings; defaults "[UNK]",
 * "[CLS]", "[SEP]", "[PAD]", "[MASK]"). The vocabulary must hold the UNK,
 * CLS and SEP tokens; PAD and MASK are optional. A tokenizer.json's
 * "truncation" and "padding" sections are ignored (params decide), its
 * "post_processor" is taken to be BERT's [CLS] A [SEP] template, and its
 * "added_tokens" must be vocabulary entries (they are matched in the raw
 * text, also those marked "normalized": true).
 * params may be NULL (defaults).
 * Returns CLF_OK and *out owns the tokenizer (free it with
 * clf_tokenizer_free()); on failure *out is NULL and:
 *   CLF_ERR_INVALID_ARG  NULL path/out, or a bad params field;
 *   CLF_ERR_NOT_FOUND    a folder with neither tokenizer.json nor vocab.txt
 *                        (a model without a WordPiece vocabulary: it takes
 *                        token ids);
 *   CLF_ERR_IO           a file or folder that cannot be read, or a path
 *                        that is not a regular file (a FIFO or a device is
 *                        refused at once, never waited on);
 *   CLF_ERR_BAD_MODEL    a malformed file: invalid JSON or UTF-8, wrong
 *                        types, missing "model"/"vocab", empty vocabulary,
 *                        duplicate tokens, ids negative, out of range or with
 *                        holes, special tokens missing from the vocabulary;
 *   CLF_ERR_UNSUPPORTED  a tokenizer.json whose model is not WordPiece
 *                        (BPE, Unigram, ...: SentencePiece/BPE vocabularies
 *                        take token ids at the API for now), or whose
 *                        normalizer / pre_tokenizer is not BERT's;
 *   CLF_ERR_OUT_OF_MEMORY.
 * clf_context_last_error(NULL) names the file and the problem. Thread-safe. */
CLF_API clf_status clf_tokenizer_load(const char *path, const clf_tokenizer_params *params,
                                      clf_tokenizer **out);

/* Frees a tokenizer; NULL is a no-op. */
CLF_API void clf_tokenizer_free(clf_tokenizer *tok);

/* Encodes text (len bytes of UTF-8; the bytes need no NUL terminator) into
 * ids[0 .. *n_ids). capacity is the length of ids in elements; capacity >=
 * clf_tokenizer_max_length(tok) always suffices. The result is [CLS] pieces
 * [SEP] (or the pieces alone with no_special_tokens), truncated to
 * max_length; empty text gives [CLS] [SEP].
 * Returns CLF_OK; CLF_ERR_INVALID_ARG for NULL arguments (text may be NULL
 * when len is 0) or invalid UTF-8 (the message gives the byte offset);
 * CLF_ERR_OUT_OF_RANGE when capacity is too small (*n_ids is then the length
 * needed and ids is left unspecified); CLF_ERR_OUT_OF_MEMORY. Thread-safe. */
CLF_API clf_status clf_tokenizer_encode(const clf_tokenizer *tok, const char *text, size_t len,
                                        int32_t *ids, int64_t capacity, int64_t *n_ids);

/* Encodes n texts into a right-padded batch. texts[i] is NUL-terminated
 * unless lens is given (lens[i] bytes). On success seq_len holds S = the
 * longest encoding, ids (n, S) row-major holds each text's ids followed by
 * the pad id (PAD's id, or 0 when the vocabulary has no PAD), and lengths (n)
 * each text's count of real ids: int32_t, the type of the lengths that
 * clf_model_encode and clf_model_generate take, so ids and lengths go to the
 * model as they are. ids must hold n * clf_tokenizer_max_length(tok)
 * elements (the most S can be). n may be 0 (then *seq_len = 0).
 * Returns CLF_OK or the first failing text's status, its index in the
 * message (see clf_tokenizer_encode). Thread-safe. */
CLF_API clf_status clf_tokenizer_encode_batch(const clf_tokenizer *tok, int64_t n,
                                              const char *const *texts, const size_t *lens,
                                              int32_t *ids, int32_t *lengths, int64_t *seq_len);

/* Number of entries in the vocabulary (ids are 0 .. size-1). */
CLF_API int64_t clf_tokenizer_vocab_size(const clf_tokenizer *tok);

/* The most ids one encoding has (params->max_length as resolved at load). */
CLF_API int64_t clf_tokenizer_max_length(const clf_tokenizer *tok);

/* The id of an exact token string ("hello", "##ing", "[CLS]"), or -1 when it
 * is not in the vocabulary (or tok/token is NULL). No normalisation. */
CLF_API int32_t clf_tokenizer_token_id(const clf_tokenizer *tok, const char *token);

/* The token string of an id, NUL-terminated and owned by the tokenizer (valid
 * until clf_tokenizer_free), or NULL when id is out of range. */
CLF_API const char *clf_tokenizer_token(const clf_tokenizer *tok, int32_t id);

/* The id of a special token, or -1 when the vocabulary has none (only PAD and
 * MASK may be absent). */
CLF_API int32_t clf_tokenizer_special_id(const clf_tokenizer *tok, clf_special_token which);

#ifdef __cplusplus
}
#endif
#endif
