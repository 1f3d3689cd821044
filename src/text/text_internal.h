/*
 * Internal interface of the text layer (src/text): the tokenizer object and
 * the in-memory parsers that clf_tokenizer_load() and the fuzz target share.
 * Not installed.
 */
#ifndef CLF_TEXT_INTERNAL_H
#define CLF_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <clformer/status.h>
#include <clformer/tokenizer.h>

#define CLF__TOK_N_SPECIAL 5         /* indexed by clf_special_token */
#define CLF__TOK_MAX_FILE (1u << 30) /* bytes; larger tokenizer files are refused */
#define CLF__TOK_MAX_VOCAB 16777216  /* entries */
#define CLF__TOK_MAX_WORD_CHARS 10000
#define CLF__TOK_MAX_PREFIX 16 /* bytes of continuing_subword_prefix */

/* Settings read from tokenizer_config.json / special_tokens_map.json, or from
 * tokenizer.json's normalizer; -1 = the file does not say. */
typedef struct clf__tok_config {
    int lowercase, strip_accents, chinese, clean_text;
    int64_t max_length;                /* 0 = not given */
    char *special[CLF__TOK_N_SPECIAL]; /* token strings (clf__malloc); NULL = default */
} clf__tok_config;

struct clf_tokenizer {
    int32_t n_vocab;
    char **tokens;  /* (n_vocab) NUL-terminated, pointing into arena */
    uint32_t *lens; /* (n_vocab) bytes of each token */
    char *arena;    /* every token's bytes */
    int32_t *table; /* (table_mask + 1) open-addressing slots: id or -1 */
    size_t table_mask;
    int32_t special[CLF__TOK_N_SPECIAL]; /* -1 = absent */
    int32_t *added;                      /* (n_added) ids matched in raw text, longest first */
    int32_t n_added;
    uint8_t added_first[32]; /* bit set of the first bytes of added tokens */
    bool lowercase, strip_accents, chinese, clean_text, add_special;
    int64_t max_length;
    int64_t max_word_chars;
    char prefix[CLF__TOK_MAX_PREFIX + 1];
    size_t prefix_len;
};

void clf__tok_config_init(clf__tok_config *cfg);
void clf__tok_config_clear(clf__tok_config *cfg);

/* Reads tokenizer_config.json or special_tokens_map.json text into cfg
 * (fields already set are overwritten). name is used in messages. */
clf_status clf__tok_config_parse(const char *data, size_t size, const char *name,
                                 clf__tok_config *cfg);

/* Builds a tokenizer from the bytes of a vocab.txt (json = false) or a
 * tokenizer.json (json = true). cfg may be NULL (nothing known), params may
 * be NULL (defaults). name is used in messages. */
clf_status clf__tokenizer_parse(const char *data, size_t size, bool json, const char *name,
                                const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                clf_tokenizer **out);

/* ---- shared by the parsers (wordpiece.c) ---- */

/* Allocates the object with n_vocab empty slots and an arena of arena_size
 * bytes; the parser fills tokens/lens, then calls clf__tok_index(). */
clf_status clf__tok_alloc(int32_t n_vocab, size_t arena_size, clf_tokenizer **out);
/* Builds the hash table; a duplicate token is CLF_ERR_BAD_MODEL naming it. */
clf_status clf__tok_index(clf_tokenizer *tok, const char *name);
/* Resolves settings, special ids and the added-token list. added (n_added
 * ids, may be NULL) are matched in raw text besides the special tokens. */
clf_status clf__tok_finish(clf_tokenizer *tok, const char *name, const clf_tokenizer_params *p,
                           const clf__tok_config *cfg, const int32_t *added, int32_t n_added);
int32_t clf__tok_lookup(const clf_tokenizer *tok, const char *s, size_t n);
/* Offset of the first invalid UTF-8 sequence in s, or -1 when it is valid. */
int64_t clf__utf8_invalid_at(const uint8_t *s, size_t n);

#endif
