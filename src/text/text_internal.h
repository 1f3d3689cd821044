/*
 * Internal interface of the text layer (src/text): the tokenizer object, the
 * per-kind dispatch, and the in-memory parsers that clf_tokenizer_load() and
 * the fuzz targets share. Not installed.
 *
 * Adding a tokenizer kind: write its parser (filling the common fields below
 * and t->model), a span encoder and a piece decoder, put them in a
 * clf__tok_vtable, and call the parser from tokenizer_load.c. Everything
 * else (added and special tokens, post-processing, truncation, batches,
 * decoding with U+FFFD for broken UTF-8, streaming) is shared (tokenizer.c).
 */
#ifndef CLF_TEXT_INTERNAL_H
#define CLF_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <clformer/status.h>
#include <clformer/tokenizer.h>

#define CLF__TOK_N_SPECIAL 7         /* indexed by clf_special_token */
#define CLF__TOK_MAX_FILE (1u << 30) /* bytes; larger tokenizer files are refused */
#define CLF__TOK_MAX_VOCAB 16777216  /* entries */
#define CLF__TOK_MAX_WORD_CHARS 10000
#define CLF__TOK_MAX_PREFIX 16 /* bytes of continuing_subword_prefix */
#define CLF__TOK_MAX_POST 4    /* special tokens before or after the text */

/* Flags of an added token (tokenizer.json "added_tokens"). */
enum {
    CLF__ADDED_SPECIAL = 1, /* skipped by CLF_DECODE_SKIP_SPECIAL */
    CLF__ADDED_LSTRIP = 2,  /* takes the whitespace before it */
    CLF__ADDED_RSTRIP = 4,  /* takes the whitespace after it */
};

/* An added token as a file defines it; content is owned by whoever made it. */
typedef struct clf__tok_added_def {
    char *content;
    int64_t id;
    int flags;
} clf__tok_added_def;

/* How the encoder frames a text when special tokens are added. */
typedef enum clf__tok_post {
    CLF__POST_NONE,     /* nothing (GPT-2) */
    CLF__POST_CLS_SEP,  /* CLS text SEP (BERT; RoBERTa and BART with <s> and </s>) */
    CLF__POST_EXPLICIT, /* t->post_prefix / t->post_suffix as the parser set them */
} clf__tok_post;

/* Settings read from tokenizer_config.json / special_tokens_map.json, or from
 * tokenizer.json's normalizer; -1 = the file does not say. */
typedef struct clf__tok_config {
    int lowercase, strip_accents, chinese, clean_text;
    int add_prefix_space;              /* byte-level BPE */
    int family_cls_sep;                /* 1 = <s> A </s> family, 0 = none (tokenizer_class) */
    int64_t max_length;                /* 0 = not given */
    char *special[CLF__TOK_N_SPECIAL]; /* token strings (clf__malloc); NULL = default */
    int special_flags[CLF__TOK_N_SPECIAL]; /* CLF__ADDED_LSTRIP/RSTRIP of each */
    clf__tok_added_def *added;         /* tokenizer_config.json "added_tokens_decoder" */
    int32_t n_added;
} clf__tok_config;

/* Ids being written by an encoder. */
typedef struct clf__tok_sink {
    int32_t *ids;
    int64_t cap, base; /* ids[base + n] receives the n-th piece */
    int64_t n, limit;  /* pieces so far and the most kept */
    void *scratch;     /* the kind's work buffers, freed by its scratch_free */
} clf__tok_sink;

/* A growing byte string. */
typedef struct clf__tok_bytes {
    uint8_t *p;
    size_t n, cap;
} clf__tok_bytes;

/* Where a decode is, handed to the kind's piece hook; one-shot and
 * streaming decodes keep it alike, so their texts agree. */
typedef struct clf__tok_dstate {
    int64_t index; /* tokens decoded before this one (skipped ones not counted) */
    int32_t prev;  /* the previous decoded id, -1 at the start */
    unsigned kind; /* the kind's own state; 0 at the start of a stream */
} clf__tok_dstate;

/* Whole-text decode rules (clf_tokenizer.decode_rules). */
enum {
    CLF__DEC_FFFD_PER_BYTE = 1, /* each byte of an ill-formed run -> U+FFFD (sentencepiece) */
    CLF__DEC_STRIP = 2,         /* strip leading/trailing whitespace (Python's str.strip) */
};

typedef struct clf__tok_vtable {
    clf_tokenizer_kind kind;
    /* Encodes s[0..n) (valid UTF-8 between added tokens, n > 0) into out. */
    clf_status (*encode_span)(const clf_tokenizer *t, const uint8_t *s, size_t n,
                              clf__tok_sink *out);
    void (*scratch_free)(void *scratch);
    /* Appends the bytes of token id to out; d says where in the decoded
     * stream it is (d->index: 0 = first kept token) and carries the kind's
     * own state from token to token. The shared layer turns the
     * concatenation into UTF-8, each maximal invalid subpart becoming one
     * U+FFFD (or one per byte with CLF__DEC_FFFD_PER_BYTE). */
    clf_status (*piece)(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                        clf__tok_bytes *out);
    void (*model_free)(void *model);
} clf__tok_vtable;

struct clf_tokenizer {
    const clf__tok_vtable *vt;
    void *model; /* the kind's own data (owned; vt->model_free) */
    int32_t n_vocab;
    char **tokens;  /* (n_vocab) NUL-terminated, pointing into arena */
    uint32_t *lens; /* (n_vocab) bytes of each token */
    char *arena;    /* every token's bytes */
    int32_t *table; /* (table_mask + 1) open-addressing slots: id or -1 */
    size_t table_mask;
    uint8_t *is_special;                 /* (n_vocab) 1 = skipped by CLF_DECODE_SKIP_SPECIAL */
    int32_t special[CLF__TOK_N_SPECIAL]; /* -1 = absent */
    int32_t *added;                      /* (n_added) ids matched in raw text, longest first */
    uint8_t *added_flags;                /* (n_added) CLF__ADDED_* */
    int32_t n_added;
    uint8_t added_first[32]; /* bit set of the first bytes of added tokens */
    int32_t post_prefix[CLF__TOK_MAX_POST], post_suffix[CLF__TOK_MAX_POST];
    int n_prefix, n_suffix; /* ids added before / after the text */
    /* The pair framing (clf_tokenizer_encode_pair): pair[0] A pair[1] B
     * pair[2]. pair_state: 0 = derived from the single framing at finish
     * (BERT's [CLS] A [SEP] B [SEP]; <s> A </s></s> B </s> for BPE with
     * CLS/SEP framing, as RoBERTa and BART; nothing when a text is not
     * framed), 1 = set by the parser, -1 = the files define no pair encoding
     * (a TemplateProcessing without "pair"). */
    int32_t pair[3][CLF__TOK_MAX_POST];
    int n_pair[3];
    int pair_state;
    bool add_special;
    int64_t max_length;
    unsigned decode_rules; /* CLF__DEC_* */
    /* WordPiece */
    bool lowercase, strip_accents, chinese, clean_text;
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
 * tokenizer.json (json = true; WordPiece or byte-level BPE). cfg may be NULL
 * (nothing known), params may be NULL (defaults). name is used in messages. */
clf_status clf__tokenizer_parse(const char *data, size_t size, bool json, const char *name,
                                const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                clf_tokenizer **out);

/* Builds a byte-level BPE tokenizer from the bytes of a vocab.json and a
 * merges.txt (GPT-2 / RoBERTa / BART folders). */
clf_status clf__bpe_parse_files(const char *vocab, size_t vocab_size, const char *vocab_name,
                                const char *merges, size_t merges_size, const char *merges_name,
                                const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                clf_tokenizer **out);

/* A byte-level BPE tokenizer from a parsed tokenizer.json (bpe_load.c). */
struct json_object;
clf_status clf__bpe_from_json(struct json_object *root, struct json_object *model,
                              const char *name, const clf_tokenizer_params *params,
                              const clf__tok_config *cfg, clf_tokenizer **out);

/* ---- shared by the parsers ---- */

/* Parses a whole JSON text (json-c's json_object **); the root must be an
 * object. */
struct json_object;
clf_status clf__tok_json_parse(const char *data, size_t size, const char *name,
                               struct json_object **out);
/* The "type" string of a JSON object, or NULL. */
const char *clf__tok_json_type(struct json_object *o);
/* Builds the vocabulary from a JSON object token -> id; added entries with
 * ids from the object's size on extend it (they must follow without holes
 * when allow_extra, else they are refused). */
clf_status clf__tok_json_vocab(struct json_object *vocab, const clf__tok_added_def *added,
                               int32_t n_added, bool allow_extra, const char *name,
                               clf_tokenizer **out);
/* tokenizer.json "added_tokens" as definitions (content points into the
 * JSON; *defs is clf__malloc'd). */
clf_status clf__tok_json_added(struct json_object *root, const char *name,
                               clf__tok_added_def **defs, int32_t *n_defs);

/* Allocates the object with n_vocab empty slots and an arena of arena_size
 * bytes; the parser fills tokens/lens, then calls clf__tok_index(). */
clf_status clf__tok_alloc(int32_t n_vocab, size_t arena_size, clf_tokenizer **out);
/* Builds the hash table; a duplicate token is CLF_ERR_BAD_MODEL naming it. */
clf_status clf__tok_index(clf_tokenizer *tok, const char *name);
/* Resolves settings, special ids, the added-token list and the framing.
 * defaults: the special token strings when cfg names none (NULL = none);
 * required: bit i set = special token i must exist. default_max: max_length
 * when neither params nor files give one. */
clf_status clf__tok_finish(clf_tokenizer *tok, const char *name, const clf_tokenizer_params *p,
                           const clf__tok_config *cfg, const clf__tok_added_def *added,
                           int32_t n_added, const char *const *defaults, unsigned required,
                           clf__tok_post post, int64_t default_max);
int32_t clf__tok_lookup(const clf_tokenizer *tok, const char *s, size_t n);
/* Offset of the first invalid UTF-8 sequence in s, or -1 when it is valid. */
int64_t clf__utf8_invalid_at(const uint8_t *s, size_t n);
/* Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s
 * match). */
bool clf__tok_is_space(int32_t c);

void clf__tok_emit(clf__tok_sink *s, int32_t id);
clf_status clf__tok_grow(void **p, size_t *cap, size_t need, size_t elem);
clf_status clf__tok_bytes_put(clf__tok_bytes *b, const void *s, size_t n);

/* A tokenizer.json post_processor (null, ByteLevel, RobertaProcessing,
 * BertProcessing, TemplateProcessing's "single", a Sequence of these) into
 * t's framing; *post becomes CLF__POST_EXPLICIT when it frames (bpe_load.c). */
clf_status clf__tok_json_post(clf_tokenizer *t, struct json_object *p, const char *name,
                              clf__tok_post *post);

/* SentencePiece kinds (spm_wire.c, unigram_json.c). */
clf_status clf__spm_tok_load_file(const char *path, const clf_tokenizer_params *params,
                                  clf_tokenizer **out);
/* A Marian folder: dir/source.spm, dir/target.spm, dir/vocab.json; cfg from
 * its tokenizer_config.json / special_tokens_map.json. */
clf_status clf__marian_load(const char *dir, const clf_tokenizer_params *params,
                            const clf__tok_config *cfg, clf_tokenizer **out);
clf_status clf__unigram_from_json(struct json_object *root, struct json_object *model,
                                  const char *name, const clf_tokenizer_params *params,
                                  const clf__tok_config *cfg, clf_tokenizer **out);

/* The kinds' tables (wordpiece.c, bpe.c, spm_wire.c, unigram_json.c). */
extern const clf__tok_vtable clf__wordpiece_vtable;
extern const clf__tok_vtable clf__bpe_vtable;
extern const clf__tok_vtable clf__spm_vtable;    /* a bare .spm / .model file */
extern const clf__tok_vtable clf__marian_vtable; /* Marian: source.spm + target.spm + vocab.json */
extern const clf__tok_vtable clf__hf_unigram_vtable; /* tokenizer.json Unigram */

#endif
