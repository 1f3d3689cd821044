/*
 * Internal interface of the SentencePiece engine (src/text/spm_*.c): the
 * Unigram and BPE models of Google's sentencepiece library, its normaliser
 * (precompiled character map + whitespace rules) and its decoder, written to
 * give the ids and text that sentencepiece gives. Not installed.
 *
 * The engine does not know where its pieces come from. clf__spm_build() takes
 * a source-independent description (clf__spm_desc); clf__spm_parse() fills
 * one from the protobuf bytes of a sentencepiece ModelProto (Marian's
 * source.spm / target.spm, T5's spiece.model), and a tokenizer.json Unigram
 * loader can fill one from its [piece, score] list and its base64
 * "precompiled_charsmap".
 *
 * Thread rules: building and freeing are single-threaded; a built model is
 * immutable, so any number of threads may encode and decode with it at once
 * (every call allocates its own scratch). Errors are recorded as the calling
 * thread's last error (clf__error with a NULL context) and name the file (the
 * name argument) and the problem.
 */
#ifndef CLF_TEXT_SPM_H
#define CLF_TEXT_SPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <clformer/status.h>

#define CLF__SPM_MAX_FILE (1u << 30)       /* bytes; larger .spm files are refused */
#define CLF__SPM_MAX_PIECES (1 << 24)      /* pieces */
#define CLF__SPM_MAX_PIECE_BYTES 4096      /* bytes of one piece */
#define CLF__SPM_MAX_TEXT ((size_t)1 << 28) /* bytes of one text to encode */

/* ModelProto.SentencePiece.Type: the values are sentencepiece's. */
typedef enum clf__spm_type {
    CLF__SPM_NORMAL = 1,
    CLF__SPM_UNKNOWN = 2,      /* exactly one piece, <unk> */
    CLF__SPM_CONTROL = 3,      /* <s>, </s>, <pad>: never produced by encode, invisible in decode */
    CLF__SPM_USER_DEFINED = 4, /* matched whole in raw text, never normalised or split */
    CLF__SPM_UNUSED = 5,       /* never produced (BPE splits it back into its parts) */
    CLF__SPM_BYTE = 6,         /* <0x00>..<0xFF>: byte fallback */
} clf__spm_type;

/* TrainerSpec.ModelType: only these two are supported. */
typedef enum clf__spm_algo {
    CLF__SPM_UNIGRAM = 1, /* Viterbi over piece scores */
    CLF__SPM_BPE = 2,     /* merges of adjacent symbols, highest piece score first */
} clf__spm_algo;

/* What a model is made of. Nothing here is owned: clf__spm_build() copies
 * what it keeps, so the description may point into a file's bytes. */
typedef struct clf__spm_desc {
    int32_t n_pieces;
    const char *const *pieces; /* (n_pieces) piece bytes, not NUL-terminated */
    const uint32_t *lens;      /* (n_pieces) bytes of each piece */
    const float *scores;       /* (n_pieces) log-probability (Unigram) or merge priority (BPE) */
    const uint8_t *types;      /* (n_pieces) clf__spm_type */
    clf__spm_algo algo;
    bool byte_fallback;              /* unknown characters become their <0xXX> bytes */
    bool add_dummy_prefix;           /* a space before the text (after it if ws_as_suffix) */
    bool remove_extra_whitespaces;   /* strip leading/trailing spaces, squeeze runs */
    bool escape_whitespaces;         /* ' ' -> U+2581 */
    bool treat_whitespace_as_suffix; /* the dummy space goes at the end */
    const uint8_t *charsmap; /* precompiled_charsmap blob; NULL/0 = no character rewriting */
    size_t charsmap_len;
    const char *unk_surface; /* decode's text for <unk>; NULL = " \u2047 " (sentencepiece's) */
    size_t unk_surface_len;
    /* Special pieces looked up by text (CONTROL pieces only); NULL = "<s>", "</s>", "<pad>". */
    const char *bos_piece, *eos_piece, *pad_piece;
} clf__spm_desc;

typedef struct clf__spm clf__spm;

/* Builds a model from desc, checking it as sentencepiece does (and a little
 * more): pieces non-empty, valid UTF-8 without NUL, at most
 * CLF__SPM_MAX_PIECE_BYTES; no piece twice within the normal kinds (NORMAL,
 * USER_DEFINED, UNUSED) or within the reserved kinds (UNKNOWN, CONTROL,
 * BYTE); exactly one UNKNOWN; BYTE pieces spelled <0xXX> and only with
 * byte_fallback, which needs all 256; a well-formed charsmap. Errors:
 * CLF_ERR_BAD_MODEL naming `name` and the problem, CLF_ERR_UNSUPPORTED for an
 * algorithm other than Unigram or BPE, CLF_ERR_OUT_OF_MEMORY. On failure *out
 * is NULL. */
clf_status clf__spm_build(const clf__spm_desc *desc, const char *name, clf__spm **out);

/* Reads the protobuf bytes of a ModelProto (a .spm / .model file) and builds
 * the model. Strict: a truncated field, an overlong varint, a length past its
 * message, a known field with the wrong wire type, a group, an unknown piece
 * type or model type is refused (unknown fields are skipped). */
clf_status clf__spm_parse(const uint8_t *data, size_t size, const char *name, clf__spm **out);

/* clf__spm_parse() on the file at path, opened with clf__file_open (a FIFO,
 * a folder, a device is refused before any read): CLF_ERR_NOT_FOUND,
 * CLF_ERR_IO, or as clf__spm_parse, each message naming path. */
clf_status clf__spm_load(const char *path, clf__spm **out);

void clf__spm_free(clf__spm *m); /* NULL is a no-op */

/* Reading the model. Ids are 0..n_pieces-1; an id outside gives NULL / -1. */
int32_t clf__spm_n_pieces(const clf__spm *m);
const char *clf__spm_piece(const clf__spm *m, int32_t id, size_t *len); /* NUL-terminated */
float clf__spm_score(const clf__spm *m, int32_t id);
int clf__spm_piece_type(const clf__spm *m, int32_t id); /* clf__spm_type, or -1 */
clf__spm_algo clf__spm_algorithm(const clf__spm *m);
/* The id of a piece as sentencepiece's PieceToId gives it (reserved kinds
 * first, then the normal ones), or -1 when no piece has that text (where
 * sentencepiece would answer the unk id). */
int32_t clf__spm_piece_id(const clf__spm *m, const char *s, size_t n);
/* unk: the UNKNOWN piece; bos/eos/pad: the CONTROL piece of that text, or -1. */
int32_t clf__spm_unk_id(const clf__spm *m);
int32_t clf__spm_bos_id(const clf__spm *m);
int32_t clf__spm_eos_id(const clf__spm *m);
int32_t clf__spm_pad_id(const clf__spm *m);

/* A growing list of ids, which encode appends to. Start it zeroed; free it
 * with clf__spm_ids_clear(). */
typedef struct clf__spm_ids {
    int32_t *ids; /* (n) */
    int64_t n, cap;
} clf__spm_ids;

void clf__spm_ids_clear(clf__spm_ids *v);

/* The normalised text of text (len bytes, any bytes; invalid UTF-8 becomes
 * U+FFFD a byte at a time, as sentencepiece does) into *norm (clf__malloc'd,
 * NUL-terminated, *norm_len bytes). For tests and debugging; encode calls it. */
clf_status clf__spm_normalize(const clf__spm *m, const char *text, size_t len, char **norm,
                              size_t *norm_len);

/* Appends the ids of text (len bytes) to out, as sentencepiece's
 * EncodeAsIds: normalise, then Unigram Viterbi or BPE merges, then unknown
 * pieces as bytes (byte fallback) or consecutive unknowns as one <unk>. No
 * BOS/EOS is added. CLF_ERR_INVALID_ARG for text == NULL with len > 0 or len
 * above CLF__SPM_MAX_TEXT; CLF_ERR_OUT_OF_MEMORY (out keeps what it had). */
clf_status clf__spm_encode(const clf__spm *m, const char *text, size_t len, clf__spm_ids *out);

/* clf__spm_encode that also gives what sentencepiece's EncodeAsPieces
 * gives: spans (when not NULL) receives two entries per id, the offset and
 * length of its surface in the normalised text, which *norm (when not NULL;
 * clf__malloc'd, NUL-terminated) receives. An <unk> run's surface is the
 * whole run (a piece string that may name another vocabulary's piece). */
clf_status clf__spm_encode_surface(const clf__spm *m, const char *text, size_t len,
                                   clf__spm_ids *out, clf__spm_ids *spans, char **norm);

/* The charsmap key that is a prefix of s[0..n): the longest (what the
 * engine's normaliser uses) or the shortest (HF's Precompiled takes the
 * first match). Returns its length (0 = none) and its replacement in *repl. */
size_t clf__spm_charsmap_prefix(const clf__spm *m, const uint8_t *s, size_t n, bool shortest,
                                const char **repl);

/* The text of n ids as sentencepiece's DecodeIds gives it: U+2581 -> space,
 * the leading space of the first piece removed, runs of <0xXX> pieces
 * reassembled into UTF-8 (a byte that forms no character becomes U+FFFD),
 * CONTROL pieces invisible, <unk> as the unk surface. *text is clf__malloc'd
 * and NUL-terminated (*len bytes). CLF_ERR_OUT_OF_RANGE for an id outside
 * the vocabulary, naming it. */
clf_status clf__spm_decode(const clf__spm *m, const int32_t *ids, int64_t n, char **text,
                           size_t *len);

/* ---- shared between the engine's files ---- */

/* Bytes of the UTF-8 character that starts s (n >= 1 bytes available), as
 * sentencepiece's DecodeUTF8: 1..4, and *valid = false (length 1) for a
 * malformed sequence, an overlong form, a surrogate or a code point above
 * U+10FFFF. */
size_t clf__spm_utf8_char(const uint8_t *s, size_t n, bool *valid);

/* A byte trie over the pieces' texts. Node 0 is the root; an edge (node,
 * byte) -> child lives in an open-addressing table keyed by node * 256 +
 * byte + 1 (0 = empty slot), so a step is one hash probe. */
typedef struct clf__spm_trie {
    int32_t n_nodes;
    int32_t *norm_id; /* (n_nodes) NORMAL / USER_DEFINED / UNUSED piece ending here, or -1 */
    int32_t *res_id;  /* (n_nodes) UNKNOWN / CONTROL / BYTE piece ending here, or -1 */
    uint64_t *key;    /* (mask + 1) edge keys */
    int32_t *child;   /* (mask + 1) */
    uint64_t mask;
    unsigned shift; /* 64 - log2(mask + 1) */
} clf__spm_trie;

static inline int32_t clf__spm_trie_step(const clf__spm_trie *t, int32_t node, uint8_t byte)
{
    uint64_t key = ((uint64_t)node << 8 | byte) + 1;
    uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> t->shift;
    for (;; h = (h + 1) & t->mask) {
        if (t->key[h] == key) return t->child[h];
        if (t->key[h] == 0) return -1;
    }
}

struct clf__spm {
    int32_t n;
    char *arena;     /* every piece's bytes, each NUL-terminated */
    size_t *off;     /* (n) offset of each piece in arena */
    uint32_t *len;   /* (n) bytes */
    float *score;    /* (n) */
    uint8_t *type;   /* (n) clf__spm_type */
    int32_t *canon;  /* (n) PieceToId(piece(id)): what decode treats id as */
    int16_t *byte_of; /* (n) the byte of a BYTE piece, else -1 */
    int32_t byte_id[256]; /* the <0xXX> piece of each byte, -1 without byte fallback */
    clf__spm_trie trie;
    clf__spm_algo algo;
    bool byte_fallback, add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
    bool has_user_defined;
    int32_t unk_id, bos_id, eos_id, pad_id;
    float min_score, max_score; /* over NORMAL pieces, as sentencepiece's Unigram model */
    char *unk_surface;
    size_t unk_surface_len;
    /* precompiled_charsmap: a Darts-clone double array and the replacement strings */
    uint32_t *da;    /* (n_da) units */
    size_t n_da;
    char *da_text;   /* NUL-separated replacement strings, ending with NUL */
    size_t da_text_len;
};

#endif
