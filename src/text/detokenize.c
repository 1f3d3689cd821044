/*
 * Ids -> text for every tokenizer kind, in one call or a token at a time.
 *
 * A kind gives the bytes of each token (clf__tok_vtable.piece); this file
 * turns their concatenation into UTF-8 the way Rust's String::from_utf8_lossy
 * does (what HF `tokenizers` uses): each maximal subpart of an ill-formed
 * sequence becomes one U+FFFD. Streaming holds back a tail that may still
 * become a valid character, so its pieces concatenate to the one-shot text.
 */
#include <string.h>

#include "core/core.h"
#include "text/spm.h"
#include "text/text_internal.h"

static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};

/* How many bytes of s[0..n) (n >= 1, s[0] >= 0x80) form a valid prefix of
 * a sequence, and in *need the length of the whole sequence (0 = s[0] can
 * start none). */
static size_t valid_prefix(const uint8_t *s, size_t n, size_t *need)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        *need = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        *need = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        *need = 4;
    else {
        *need = 0;
        return 1;
    }
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
    size_t k = 1;
    for (; k < *need && k < n; k++) {
        uint8_t c = s[k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
    }
    return k;
}

/* Appends the UTF-8 of s[0..n) to out, ill-formed parts as U+FFFD (one per
 * maximal subpart, or one per byte when per_byte: sentencepiece's rule).
 * When not final, a tail that is a valid but incomplete sequence is left;
 * returns the bytes consumed. */
static clf_status lossy(const uint8_t *s, size_t n, bool final, bool per_byte,
                        clf__tok_bytes *out, size_t *used)
{
    size_t i = 0, run = 0; /* s[run..i) is valid and not yet copied */
    *used = 0;
    if (n == 0) return CLF_OK; /* s may be NULL */
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t need, k = valid_prefix(s + i, n - i, &need);
        if (need && k == need) {
            i += k;
            continue;
        }
        if (need && i + k == n && !final) break; /* may still complete */
        CLF_TRY(clf__tok_bytes_put(out, s + run, i - run));
        for (size_t r = per_byte ? k : 1; r > 0; r--)
            CLF_TRY(clf__tok_bytes_put(out, fffd, 3));
        i += k;
        run = i;
    }
    CLF_TRY(clf__tok_bytes_put(out, s + run, i - run));
    *used = i;
    return CLF_OK;
}

/* Python's str.isspace: Unicode White_Space and U+001C..U+001F. */
static size_t space_at(const uint8_t *s, size_t n)
{
    int32_t c = s[0];
    size_t k = 1;
    if (c >= 0x80) {
        bool valid;
        k = clf__spm_utf8_char(s, n, &valid);
        c = (int32_t)(s[0] & (0xFF >> (k + 1)));
        for (size_t i = 1; i < k; i++)
            c = c << 6 | (s[i] & 0x3F);
    }
    return clf__tok_is_space(c) || (c >= 0x1C && c <= 0x1F) ? k : 0;
}

/* CLF__DEC_STRIP over a stream: text (valid UTF-8, whole characters) goes to
 * out without the whitespace before the first other character (*started
 * records that one came) and with the whitespace at its end held in held
 * until something else follows; final drops what is held. */
static clf_status strip_stream(const uint8_t *s, size_t n, bool *started, clf__tok_bytes *held,
                               clf__tok_bytes *out)
{
    size_t i = 0, k;
    if (!*started) {
        while (i < n && (k = space_at(s + i, n - i)) > 0)
            i += k;
        if (i == n) return CLF_OK;
        *started = true;
    }
    size_t last = i; /* end of the last character that is not whitespace */
    for (size_t j = i; j < n;) {
        k = space_at(s + j, n - j);
        if (k) {
            j += k;
            continue;
        }
        bool valid;
        j += clf__spm_utf8_char(s + j, n - j, &valid);
        last = j;
    }
    if (last > i) {
        CLF_TRY(clf__tok_bytes_put(out, held->p, held->n));
        held->n = 0;
        CLF_TRY(clf__tok_bytes_put(out, s + i, last - i));
    }
    return clf__tok_bytes_put(held, s + last, n - last);
}

static clf_status check_id(const clf_tokenizer *t, const char *fn, int32_t id, int64_t at)
{
    if (id >= 0 && id < t->n_vocab) return CLF_OK;
    return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: id %d (at %lld) is outside 0..%d", fn,
                      (int)id, (long long)at, (int)t->n_vocab - 1);
}

clf_status clf_tokenizer_decode(const clf_tokenizer *t, const int32_t *ids, int64_t n_ids,
                                unsigned flags, char *text, size_t capacity, size_t *len)
{
    if (len) *len = 0;
    if (!t || (!ids && n_ids) || n_ids < 0 || !len || (!text && capacity))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_decode: NULL tokenizer, ids, text or len, or n_ids < 0");
    if (flags & ~(unsigned)CLF_DECODE_SKIP_SPECIAL)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tokenizer_decode: unknown flags 0x%x",
                          flags);
    clf__tok_bytes raw = {0}, out = {0}, held = {0}, text8 = {0};
    clf_status st = CLF_OK;
    clf__tok_dstate ds = {0, -1, 0};
    for (int64_t i = 0; i < n_ids && st == CLF_OK; i++) {
        if ((st = check_id(t, "clf_tokenizer_decode", ids[i], i)) != CLF_OK) break;
        if ((flags & CLF_DECODE_SKIP_SPECIAL) && t->is_special[ids[i]]) continue;
        st = t->vt->piece(t, ids[i], &ds, &raw);
        ds.index++;
        ds.prev = ids[i];
    }
    size_t used;
    bool per_byte = t->decode_rules & CLF__DEC_FFFD_PER_BYTE, started = false;
    if (st == CLF_OK && (t->decode_rules & CLF__DEC_STRIP)) {
        st = lossy(raw.p, raw.n, true, per_byte, &text8, &used);
        if (st == CLF_OK) st = strip_stream(text8.p, text8.n, &started, &held, &out);
    } else if (st == CLF_OK)
        st = lossy(raw.p, raw.n, true, per_byte, &out, &used);
    if (st == CLF_OK) {
        *len = out.n;
        if (out.n + 1 > capacity)
            st = clf__error(NULL, CLF_ERR_OUT_OF_RANGE,
                            "clf_tokenizer_decode: %zu bytes and the NUL do not fit in capacity "
                            "%zu",
                            out.n, capacity);
        else {
            if (out.n) memcpy(text, out.p, out.n);
            text[out.n] = '\0';
        }
    }
    clf__free(raw.p);
    clf__free(out.p);
    clf__free(held.p);
    clf__free(text8.p);
    return st;
}

/* ---- streaming ---- */

struct clf_detokenizer {
    const clf_tokenizer *tok;
    unsigned flags;
    clf__tok_dstate ds;     /* where the stream is (the kind's hook reads it) */
    clf__tok_bytes pending; /* bytes not yet emitted: an incomplete tail */
    clf__tok_bytes out;     /* the text returned by the last call */
    clf__tok_bytes text8;   /* CLF__DEC_STRIP: the new text before stripping */
    clf__tok_bytes held;    /* CLF__DEC_STRIP: trailing whitespace held back */
    bool started;           /* CLF__DEC_STRIP: text other than whitespace came */
};

clf_status clf_detokenizer_create(const clf_tokenizer *t, unsigned flags, clf_detokenizer **out)
{
    if (out) *out = NULL;
    if (!t || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_detokenizer_create: NULL tokenizer or out");
    if (flags & ~(unsigned)CLF_DECODE_SKIP_SPECIAL)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_detokenizer_create: unknown flags 0x%x",
                          flags);
    clf_detokenizer *d = clf__calloc(1, sizeof *d);
    if (!d) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_detokenizer_create: out of host memory");
    d->tok = t;
    d->flags = flags;
    d->ds.prev = -1;
    *out = d;
    return CLF_OK;
}

void clf_detokenizer_free(clf_detokenizer *d)
{
    if (!d) return;
    clf__free(d->pending.p);
    clf__free(d->out.p);
    clf__free(d->text8.p);
    clf__free(d->held.p);
    clf__free(d);
}

void clf_detokenizer_reset(clf_detokenizer *d)
{
    if (!d) return;
    d->ds = (clf__tok_dstate){0, -1, 0};
    d->pending.n = 0;
    d->out.n = 0;
    d->held.n = 0;
    d->started = false;
}

/* Emits what pending holds (all of it when final), keeping the tail. */
static clf_status drain(clf_detokenizer *d, bool final, const char **text, size_t *len)
{
    d->out.n = 0;
    size_t used;
    CLF_TRY(clf__tok_bytes_put(&d->out, "", 0)); /* room for the NUL */
    bool per_byte = d->tok->decode_rules & CLF__DEC_FFFD_PER_BYTE;
    if (d->tok->decode_rules & CLF__DEC_STRIP) {
        d->text8.n = 0;
        CLF_TRY(lossy(d->pending.p, d->pending.n, final, per_byte, &d->text8, &used));
        CLF_TRY(strip_stream(d->text8.p, d->text8.n, &d->started, &d->held, &d->out));
        if (final) d->held.n = 0, d->started = false;
    } else
        CLF_TRY(lossy(d->pending.p, d->pending.n, final, per_byte, &d->out, &used));
    if (used) memmove(d->pending.p, d->pending.p + used, d->pending.n - used);
    d->pending.n -= used;
    d->out.p[d->out.n] = '\0';
    *text = (const char *)d->out.p;
    *len = d->out.n;
    return CLF_OK;
}

clf_status clf_detokenizer_push(clf_detokenizer *d, int32_t id, const char **text, size_t *len)
{
    if (text) *text = "";
    if (len) *len = 0;
    if (!d || !text || !len)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_detokenizer_push: NULL argument");
    CLF_TRY(check_id(d->tok, "clf_detokenizer_push", id, d->ds.index));
    if (!((d->flags & CLF_DECODE_SKIP_SPECIAL) && d->tok->is_special[id])) {
        size_t before = d->pending.n;
        clf__tok_dstate saved = d->ds;
        clf_status st = d->tok->vt->piece(d->tok, id, &d->ds, &d->pending);
        if (st != CLF_OK) {
            d->pending.n = before; /* the call had no effect */
            d->ds = saved;
            return st;
        }
        d->ds.index++;
        d->ds.prev = id;
    }
    return drain(d, false, text, len);
}

clf_status clf_detokenizer_flush(clf_detokenizer *d, const char **text, size_t *len)
{
    if (text) *text = "";
    if (len) *len = 0;
    if (!d || !text || !len)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_detokenizer_flush: NULL argument");
    CLF_TRY(drain(d, true, text, len));
    d->ds = (clf__tok_dstate){0, -1, 0};
    return CLF_OK;
}
