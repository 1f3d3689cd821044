/*
 * The byte-level BPE model shared by bpe.c (encoding, decoding) and
 * bpe_load.c (tokenizer.json, vocab.json + merges.txt). Not installed.
 */
#ifndef CLF_BPE_INTERNAL_H
#define CLF_BPE_INTERNAL_H

#include "text/text_internal.h"

#define CLF__BPE_MAX_MERGES 16777216

typedef struct clf__bpe {
    int32_t byte_id[256]; /* id of the one-character token of each byte; -1 = none */
    /* Merges: open-addressing table keyed by (left id, right id). */
    uint64_t *keys;  /* (mask + 1) (left << 32 | right) + 1; 0 = empty slot */
    uint32_t *ranks; /* (mask + 1) the merge's line: lower merges first */
    int32_t *merged; /* (mask + 1) id of the merged token */
    size_t mask;
    int32_t n_merges;
    int32_t unk;           /* model unk_token id, -1 = characters not in the vocabulary are dropped */
    bool add_prefix_space; /* a space before each span that does not start with one */
    bool ignore_merges;    /* a word that is a token is taken whole */
} clf__bpe;

/* GPT-2's table: byte -> the code point that stands for it in tokens. */
int32_t clf__bpe_byte_char(uint8_t b);
/* The byte a code point stands for, or -1. */
int clf__bpe_char_byte(int32_t c);

/* Allocates an empty model with room for n_merges. */
clf_status clf__bpe_new(int32_t n_merges, const char *name, clf__bpe **out);
void clf__bpe_free(void *model);
/* Adds the merge (a, b) -> m with the next rank; a pair seen before takes the
 * new rank (HF keeps the last). */
void clf__bpe_add_merge(clf__bpe *b, int32_t a, int32_t r, int32_t m, uint32_t rank);
/* Fills byte_id from the vocabulary. */
void clf__bpe_bytes(clf__bpe *b, const clf_tokenizer *t);

#endif
