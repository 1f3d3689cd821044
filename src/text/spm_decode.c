/*
 * Ids -> text with a SentencePiece model, as sentencepiece's DecodeIds: each
 * id is read as the piece PieceToId(IdToPiece(id)) names (so a piece that is
 * both reserved and normal decodes as the reserved one, as there), U+2581
 * becomes a space, the first piece's leading U+2581 is dropped (when the
 * normaliser adds a dummy prefix or squeezes whitespace), runs of <0xXX>
 * pieces are reassembled into UTF-8 with U+FFFD for each byte that forms no
 * character, CONTROL pieces are invisible and <unk> is the unk surface.
 */
#include <string.h>

#include "core/core.h"
#include "text/spm.h"

typedef struct out {
    char *p;
    size_t n, cap;
    bool failed;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->failed) return;
    if (o->cap - o->n < n + 1) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap - o->n < n + 1) cap *= 2;
        char *p = clf__realloc(o->p, cap);
        if (!p) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

/* The pending byte pieces as text: each UTF-8 character they form, U+FFFD
 * for each byte that starts none. */
static void flush_bytes(out *o, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n;) {
        bool valid;
        size_t k = clf__spm_utf8_char(b + i, n - i, &valid);
        if (valid)
            put(o, (const char *)b + i, k);
        else
            put(o, "\xEF\xBF\xBD", 3);
        i += k;
    }
}

/* A piece's text with U+2581 as spaces. */
static void put_piece(out *o, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *ws = NULL;
        for (size_t j = i; j + 3 <= n; j++)
            if (memcmp(p + j, "\xE2\x96\x81", 3) == 0) {
                ws = p + j;
                break;
            }
        size_t run = ws ? (size_t)(ws - (p + i)) : n - i;
        put(o, p + i, run);
        i += run;
        if (ws) {
            put(o, " ", 1);
            i += 3;
        }
    }
}

clf_status clf__spm_decode(const clf__spm *m, const int32_t *ids, int64_t n, char **text,
                           size_t *len)
{
    if (!text || !len) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm decode: no output");
    *text = NULL;
    *len = 0;
    if (!m || n < 0 || (!ids && n > 0))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm decode: no model, or no ids");
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->n)
            return clf__error(NULL, CLF_ERR_OUT_OF_RANGE,
                              "spm decode: id %d at position %lld is outside 0..%d", (int)ids[i],
                              (long long)i, (int)m->n - 1);
    out o = {0};
    uint8_t *bytes = clf__malloc(n > 0 ? (size_t)n : 1);
    if (!bytes) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "spm decode: out of host memory");
    size_t n_bytes = 0;
    bool is_bos_ws = true, bos_ws_seen = false;
    put(&o, "", 0);
    for (int64_t i = 0; i < n; i++) {
        int32_t id = m->canon[ids[i]];
        if (m->type[id] == CLF__SPM_BYTE) {
            bytes[n_bytes++] = (uint8_t)m->byte_of[id];
            continue;
        }
        flush_bytes(&o, bytes, n_bytes);
        n_bytes = 0;
        if (bos_ws_seen || o.n > 0) is_bos_ws = false;
        bos_ws_seen = false;
        if (m->type[id] == CLF__SPM_CONTROL) continue;
        if (m->type[id] == CLF__SPM_UNKNOWN) {
            put(&o, m->unk_surface, m->unk_surface_len);
            continue;
        }
        const char *p = m->arena + m->off[id];
        size_t pn = m->len[id];
        if (is_bos_ws && (m->add_dummy_prefix || m->remove_extra_ws) && pn >= 3 &&
            memcmp(p, "\xE2\x96\x81", 3) == 0) {
            p += 3, pn -= 3;
            /* Squeezed whitespace: every leading U+2581 goes, not only the first. */
            bos_ws_seen = !m->remove_extra_ws;
        }
        put_piece(&o, p, pn);
    }
    flush_bytes(&o, bytes, n_bytes);
    clf__free(bytes);
    if (o.failed) {
        clf__free(o.p);
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "spm decode: out of host memory");
    }
    *text = o.p;
    *len = o.n;
    return CLF_OK;
}
