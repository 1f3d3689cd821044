/*
 * clformer tokenizer: text -> token ids -> text, the same ids and text as
 * HuggingFace `tokenizers`, for several kinds (clf_tokenizer_kind):
 *   - WordPiece (BERT, MiniLM and their relatives): BertNormalizer +
 *     BertPreTokenizer + WordPiece + the [CLS] A [SEP] template;
 *   - byte-level BPE (GPT-2, RoBERTa, BART): ByteLevel pre-tokenizer with
 *     GPT-2's pattern + BPE merges + ByteLevel decoder, framed by <s> A </s>
 *     for RoBERTa and BART, by nothing for GPT-2 (see clf_tokenizer_load).
 * One API serves every kind: encode, batches, decode and streaming decode.
 *
 * WordPiece pipeline of one text:
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
 * Byte-level BPE pipeline of one text:
 *   1. Added tokens (tokenizer.json "added_tokens", tokenizer_config.json
 *      "added_tokens_decoder", and the special tokens the files name) are
 *      matched first, leftmost-longest; one marked lstrip / rstrip (RoBERTa's
 *      <mask>) also takes the Unicode whitespace before / after it.
 *   2. Each stretch between them gets a space in front when add_prefix_space
 *      is on and it does not start with one, and is split by GPT-2's pattern
 *      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      (\s = Unicode White_Space, \p{L} / \p{N} = the L* / N* categories).
 *   3. Each word's UTF-8 bytes become GPT-2's byte characters, and merges
 *      apply lowest rank first (leftmost first among equals); the pieces'
 *      ids come from the vocabulary. A byte without a token becomes the
 *      model's unk_token, or is dropped when it has none (as HF does).
 *   4. With special tokens: the post-processor's tokens around the ids
 *      (RobertaProcessing / TemplateProcessing: <s> ids </s>), truncated to
 *      max_length so that the closing token stays last.
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

/* What a tokenizer is (clf_tokenizer_kind_of). Values are only appended. */
typedef enum clf_tokenizer_kind {
    CLF_TOKENIZER_KIND_NONE = -1,     /* clf_tokenizer_kind_of(NULL) */
    CLF_TOKENIZER_KIND_WORDPIECE = 0, /* BERT WordPiece */
    CLF_TOKENIZER_KIND_BPE = 1,       /* byte-level BPE (GPT-2, RoBERTa, BART) */
    CLF_TOKENIZER_KIND_UNIGRAM = 2,   /* SentencePiece Unigram (Marian .spm, T5, XLM-R) */
    CLF_TOKENIZER_KIND_SPM_BPE = 3,   /* SentencePiece BPE (pieces with U+2581, byte fallback) */
} clf_tokenizer_kind;

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
    /* true = encode without the framing tokens: [CLS] and [SEP], or <s> and
     * </s> (default false: add them; GPT-2 adds none either way). */
    bool no_special_tokens;
    /* Byte-level BPE: a space before text that does not start with one.
     * AUTO = the file's (tokenizer.json's ByteLevel "add_prefix_space",
     * true when absent, as in HF; tokenizer_config.json's
     * "add_prefix_space" for vocab.json + merges.txt, false when absent). */
    clf_tokenizer_flag add_prefix_space;
} clf_tokenizer_params;

/* Which special token clf_tokenizer_special_id() returns. */
typedef enum clf_special_token {
    CLF_TOKEN_PAD = 0,
    CLF_TOKEN_UNK = 1,
    CLF_TOKEN_CLS = 2,
    CLF_TOKEN_SEP = 3,
    CLF_TOKEN_MASK = 4,
    CLF_TOKEN_BOS = 5, /* beginning of sequence: <s>, <|endoftext|> */
    CLF_TOKEN_EOS = 6, /* end of sequence: </s>, <|endoftext|> */
} clf_special_token;

/* The defaults (every field zero / AUTO). Thread-safe. */
CLF_API clf_tokenizer_params clf_tokenizer_params_default(void);

/* Loads a tokenizer; its kind comes from the files. path is one of:
 *   - a model folder: its tokenizer.json when present, else its vocab.txt
 *     (WordPiece), else its vocab.json + merges.txt (byte-level BPE);
 *   - a tokenizer.json file (HF `tokenizers` format, model type WordPiece,
 *     or BPE with a ByteLevel pre-tokenizer and decoder);
 *   - a vocab.txt file (WordPiece: one token per line, the line number is
 *     its id);
 *   - a vocab.json or merges.txt file: both, from the same folder (GPT-2's
 *     format: vocab.json maps token -> id, merges.txt has an optional
 *     "#version" line then one "left right" merge per line, by rank).
 *
 * SentencePiece (kinds UNIGRAM and SPM_BPE):
 *   - a .spm / .model file (a sentencepiece ModelProto): ids are the
 *     model's own, encode is sentencepiece's EncodeAsIds (nothing appended;
 *     no_special_tokens changes nothing), decode its DecodeIds (a byte of an
 *     ill-formed byte-fallback run -> one U+FFFD each); UNK/BOS/EOS/PAD are
 *     its <unk> and control pieces <s> </s> <pad>, the control pieces are
 *     the special ones; max_length defaults to 512;
 *   - a Marian folder (path is a folder holding source.spm or target.spm):
 *     as transformers' MarianTokenizer, encode is the SOURCE side (special
 *     tokens </s> <unk> <pad> matched in the text, a leading ">>xx<<"
 *     language code its own piece, source.spm's pieces looked up in
 *     vocab.json, unknown ones -> <unk>, then </s>) and decode is the
 *     TARGET side (the ids' vocab.json pieces through target.spm's decode
 *     rules, a special token kept as itself plus a space, the text stripped
 *     of leading and trailing whitespace): encode the source text, decode
 *     the generated ids. transformers 5.x decodes with source.spm by default
 *     when the vocabulary is shared; use_source_tokenizer=False gives ours.
 *     A missing source.spm / target.spm / vocab.json is CLF_ERR_IO; a
 *     vocab.json that lacks <unk> or </s>, or holds under half of
 *     source.spm's pieces, is CLF_ERR_BAD_MODEL;
 *   - a tokenizer.json whose model is Unigram: see src/text/unigram_json.c
 *     for the normalizers (Precompiled with a base64 charsmap, Replace,
 *     Strip, Sequence), pre-tokenizers (Metaspace, WhitespaceSplit +
 *     Metaspace) and decoder (Metaspace) taken; byte_fallback, a null
 *     unk_id, prepend_scheme "first" and anything else are refused with
 *     CLF_ERR_UNSUPPORTED naming the setting.
 *
 * Byte-level BPE. The model's "dropout", "byte_fallback",
 * "continuing_subword_prefix" / "end_of_word_suffix" (other than empty),
 * a normalizer, a pre-tokenizer other than ByteLevel with use_regex, a
 * decoder other than ByteLevel, and added tokens with single_word are
 * refused (CLF_ERR_UNSUPPORTED) rather than encoded differently from HF;
 * "ignore_merges" and "unk_token" are honoured. Added tokens may extend the
 * vocabulary with ids right after it (no holes). The framing comes from
 * tokenizer.json's post_processor (null / ByteLevel: none; RobertaProcessing
 * or BertProcessing: cls A sep; TemplateProcessing: its "single" template,
 * up to 4 tokens each side; a Sequence of these). For vocab.json +
 * merges.txt it comes from the family: tokenizer_config.json's
 * "tokenizer_class" (Roberta*, Bart*, Longformer*, LED*, Blenderbot*, Mvp*,
 * Camembert*, XLMRoberta*: <s> A </s>; GPT2*, CodeGen*, GPTNeo*: none), else
 * <s> A </s> when the vocabulary holds both <s> and </s>, else none. Special
 * tokens: those the config files name (pad/unk/cls/sep/mask/bos/eos_token,
 * strings or AddedToken objects, whose lstrip/rstrip count), else <pad>
 * <unk> <s> </s> <mask> when present, with <|endoftext|> as BOS, EOS and UNK
 * when there is no <s> / <unk>; none is required. max_length defaults as for
 * WordPiece but to 1024 (GPT-2's context) instead of 512.
 *
 * WordPiece.
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
 *   CLF_ERR_NOT_FOUND    a folder with neither tokenizer.json, vocab.txt,
 *                        vocab.json nor merges.txt (a model without a
 *                        vocabulary: it takes token ids);
 *   CLF_ERR_IO           a file or folder that cannot be read, or a path
 *                        that is not a regular file (a FIFO or a device is
 *                        refused at once, never waited on);
 *   CLF_ERR_BAD_MODEL    a malformed file: invalid JSON or UTF-8, wrong
 *                        types, missing "model"/"vocab", empty vocabulary,
 *                        duplicate tokens, ids negative, out of range or with
 *                        holes, special tokens missing from the vocabulary;
 *                        BPE: a merge whose tokens or result are not in the
 *                        vocabulary, a malformed merges.txt line (the
 *                        message gives its number), a framing token that is
 *                        not the vocabulary's, added-token ids with holes;
 *   CLF_ERR_UNSUPPORTED  a tokenizer.json whose model is not WordPiece,
 *                        BPE or Unigram, a WordPiece one whose normalizer /
 *                        pre_tokenizer is not BERT's, a BPE one with a
 *                        setting listed above as refused;
 *   CLF_ERR_OUT_OF_MEMORY.
 * clf_context_last_error(NULL) names the file and the problem. Thread-safe. */
CLF_API clf_status clf_tokenizer_load(const char *path, const clf_tokenizer_params *params,
                                      clf_tokenizer **out);

/* The kind of a tokenizer; CLF_TOKENIZER_KIND_NONE for NULL. Thread-safe. */
CLF_API clf_tokenizer_kind clf_tokenizer_kind_of(const clf_tokenizer *tok);

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

/* Encodes a pair of texts (a question and a passage, two sentences for a
 * cross-encoder) as the family frames pairs, into ids[0 .. *n_ids):
 *   WordPiece (BERT)              [CLS] A [SEP] B [SEP]
 *   RoBERTa / BART (BPE)          <s> A </s></s> B </s>
 *   tokenizer.json templates      its "pair" template (XLM-R: <s> A </s></s> B </s>)
 *   Marian                        A B </s>
 *   GPT-2, bare .spm files        A B
 * (with no_special_tokens: A B). When the whole is longer than max_length,
 * the texts are cut as HF tokenizers' "longest_first" cuts them: the shorter
 * keeps up to half of what fits, the longer the rest (each from its end).
 * Token type ids are not returned: clformer's models take none.
 * Returns CLF_OK; CLF_ERR_UNSUPPORTED for a tokenizer.json whose
 * TemplateProcessing has no "pair" (HF refuses such pairs too); otherwise as
 * clf_tokenizer_encode (CLF_ERR_INVALID_ARG names text "a" or "b").
 * Thread-safe. */
CLF_API clf_status clf_tokenizer_encode_pair(const clf_tokenizer *tok, const char *a, size_t a_len,
                                             const char *b, size_t b_len, int32_t *ids,
                                             int64_t capacity, int64_t *n_ids);

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

/* Number of entries in the vocabulary, added tokens included (ids are
 * 0 .. size-1). */
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

/* true when id is a special token (one that CLF_DECODE_SKIP_SPECIAL skips:
 * the special tokens above and the added tokens marked "special"). */
CLF_API bool clf_tokenizer_is_special(const clf_tokenizer *tok, int32_t id);

/* ---- decoding: ids -> text ---- */

/* Flags of clf_tokenizer_decode and clf_detokenizer_create. */
#define CLF_DECODE_SKIP_SPECIAL 1u /* leave out special tokens (skip_special_tokens=True) */

/* Decodes ids[0 .. n_ids) into text, as HF `tokenizers`' Tokenizer.decode
 * does (the reference of the tests):
 *   - WordPiece: tokens joined by spaces, a token with the "##" prefix
 *     joined to the one before without it (not the first: it stays as it
 *     is), and each token's text cleaned as HF's WordPiece decoder does
 *     (" ." -> ".", " ?", " !", " ,", " ' " -> "'", " n't", " 'm",
 *     " do not" -> " don't", " 's", " 've", " 're"), token by token.
 *     transformers' Python decode() may apply the same clean-up once more
 *     to the whole text (clean_up_tokenization_spaces); this call does not.
 *   - byte-level BPE: each token's characters back to GPT-2's bytes (a
 *     token with a character outside the byte table, such as an added token
 *     written in other characters, gives its own UTF-8), the bytes read as
 *     UTF-8 with each maximal ill-formed subpart replaced by U+FFFD (Rust's
 *     from_utf8_lossy, Python's errors="replace").
 * The text is valid UTF-8 and NUL-terminated; *len receives its length in
 * bytes without the NUL, also when it does not fit (the text itself holds a
 * NUL byte where the ids encode one: trust *len, not strlen). capacity is the size of
 * text in bytes (text may be NULL when capacity is 0: a size query).
 * Returns CLF_OK; CLF_ERR_INVALID_ARG for NULL arguments, unknown flags or
 * an id outside the vocabulary (the message gives its index);
 * CLF_ERR_OUT_OF_RANGE when *len + 1 > capacity (text is then unspecified);
 * CLF_ERR_OUT_OF_MEMORY. Thread-safe. */
CLF_API clf_status clf_tokenizer_decode(const clf_tokenizer *tok, const int32_t *ids,
                                        int64_t n_ids, unsigned flags, char *text,
                                        size_t capacity, size_t *len);

/* Streaming decode: fed one id at a time (say, as a model generates them),
 * it returns only complete UTF-8 text, holding back the bytes of a
 * character that is not complete yet. The texts of every push and of the
 * final flush, concatenated, are exactly clf_tokenizer_decode() of the same
 * ids with the same flags; each returned piece is valid UTF-8 on its own.
 * One detokenizer serves one stream: it is not thread-safe (use one per
 * thread); the tokenizer it reads must outlive it and may be shared. */
typedef struct clf_detokenizer clf_detokenizer; /* opaque */

/* Creates a detokenizer for tok with CLF_DECODE_* flags. Returns CLF_OK and
 * *out (free with clf_detokenizer_free); CLF_ERR_INVALID_ARG for NULL
 * arguments or unknown flags (then *out is NULL); CLF_ERR_OUT_OF_MEMORY. */
CLF_API clf_status clf_detokenizer_create(const clf_tokenizer *tok, unsigned flags,
                                          clf_detokenizer **out);

/* Adds one id. *text receives the text that became complete (possibly "",
 * NUL-terminated, owned by d and valid until the next call on d) and *len
 * its length in bytes. Returns CLF_OK; CLF_ERR_INVALID_ARG for NULL
 * arguments or an id outside the vocabulary (d is then unchanged: the id is
 * not taken); CLF_ERR_OUT_OF_MEMORY (d unchanged). */
CLF_API clf_status clf_detokenizer_push(clf_detokenizer *d, int32_t id, const char **text,
                                        size_t *len);

/* Ends the stream: returns what was held back (an incomplete character
 * becomes U+FFFD, as the one-shot decode does) and starts a new stream,
 * as clf_detokenizer_reset does. Same returns as clf_detokenizer_push. */
CLF_API clf_status clf_detokenizer_flush(clf_detokenizer *d, const char **text, size_t *len);

/* Forgets the stream (held-back bytes are dropped); NULL is a no-op. */
CLF_API void clf_detokenizer_reset(clf_detokenizer *d);

/* Frees a detokenizer; NULL is a no-op. */
CLF_API void clf_detokenizer_free(clf_detokenizer *d);

#ifdef __cplusplus
}
#endif
#endif
