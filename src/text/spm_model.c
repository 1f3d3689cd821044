/*
 * The reader of sentencepiece's model files (.spm, .model): the protobuf
 * wire format of sentencepiece_model.proto's ModelProto, read by hand.
 *
 * Why not protobuf-c: the engine needs fifteen scalar fields of four
 * messages. A strict reader of those is ~300 lines with every length checked
 * against its enclosing message, is fuzzed in-process like the other parsers
 * (tools/fuzz.sh spm), and keeps a code generator and its generated files out
 * of the build. The reader is stricter than protobuf where being lenient
 * would hide a broken file: a known field with the wrong wire type, a group
 * (wire types 3/4, deprecated), an unknown piece type or model type is an
 * error; unknown fields are skipped, as protobuf does, so files from newer
 * sentencepiece versions still load. Nested messages are parsed only where
 * the schema has them (depth 2 at most), so depth needs no other limit.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "text/spm.h"

/* Field numbers of sentencepiece_model.proto. */
enum {
    MP_PIECES = 1, MP_TRAINER = 2, MP_NORMALIZER = 3, MP_DENORMALIZER = 5,
    SP_PIECE = 1, SP_SCORE = 2, SP_TYPE = 3,
    TS_MODEL_TYPE = 3, TS_TREAT_WS_AS_SUFFIX = 24, TS_BYTE_FALLBACK = 35, TS_UNK_SURFACE = 44,
    TS_BOS_PIECE = 46, TS_EOS_PIECE = 47, TS_PAD_PIECE = 48,
    NS_NAME = 1, NS_CHARSMAP = 2, NS_ADD_DUMMY_PREFIX = 3, NS_REMOVE_EXTRA_WS = 4,
    NS_ESCAPE_WS = 5,
};

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct reader {
    const uint8_t *p, *end;
    const uint8_t *base; /* start of the file, for offsets in messages */
    const char *name;    /* the file */
    const char *where;   /* the message being read, for messages */
} reader;

typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes;

/* What the file says; pieces point into its bytes. */
typedef struct parsed {
    int32_t n, cap;
    const char **piece;
    uint32_t *len;
    float *score;
    uint8_t *type;
    int64_t model_type;
    bool byte_fallback, ws_suffix;
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
    bytes charsmap, unk_surface, bos, eos, pad;
    bool has_unk_surface;
} parsed;

static clf_status bad(const reader *r, const char *what)
{
    return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %s in %s at byte %zu", r->name, what, r->where,
                      (size_t)(r->p - r->base));
}

static clf_status read_varint(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return bad(r, "truncated varint");
        uint8_t b = *r->p++;
        /* The tenth byte holds bit 63 only. */
        if (i == 9 && b > 1) return bad(r, "varint longer than 64 bits");
        x |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return CLF_OK;
        }
    }
    return bad(r, "varint longer than 10 bytes");
}

static clf_status read_key(reader *r, uint32_t *field, unsigned *wt)
{
    uint64_t k;
    *field = 0;
    *wt = 0;
    CLF_TRY(read_varint(r, &k));
    *wt = (unsigned)(k & 7);
    if ((k >> 3) == 0 || (k >> 3) > 0x1FFFFFFF) return bad(r, "invalid field number");
    *field = (uint32_t)(k >> 3);
    if (*wt == 3 || *wt == 4) return bad(r, "group (wire type 3/4), which this reader refuses");
    if (*wt != WT_VARINT && *wt != WT_I64 && *wt != WT_LEN && *wt != WT_I32)
        return bad(r, "invalid wire type");
    return CLF_OK;
}

static clf_status read_len(reader *r, bytes *out)
{
    uint64_t n;
    CLF_TRY(read_varint(r, &n));
    if (n > (uint64_t)(r->end - r->p)) {
        char what[96];
        snprintf(what, sizeof what, "length %llu past the end of its message (%zu bytes left)",
                 (unsigned long long)n, (size_t)(r->end - r->p));
        return bad(r, what);
    }
    out->p = r->p;
    out->n = (size_t)n;
    r->p += n;
    return CLF_OK;
}

static clf_status skip_field(reader *r, unsigned wt)
{
    uint64_t v;
    bytes b;
    size_t n = wt == WT_I64 ? 8 : 4;
    switch (wt) {
    case WT_VARINT: return read_varint(r, &v);
    case WT_LEN: return read_len(r, &b);
    default:
        if ((size_t)(r->end - r->p) < n) return bad(r, "truncated fixed-size field");
        r->p += n;
        return CLF_OK;
    }
}

static clf_status expect(reader *r, uint32_t field, unsigned wt, unsigned want)
{
    if (wt == want) return CLF_OK;
    char what[96];
    snprintf(what, sizeof what, "field %u has wire type %u, expected %u", field, wt, want);
    return bad(r, what);
}

static clf_status read_bool(reader *r, uint32_t field, unsigned wt, bool *out)
{
    uint64_t v;
    CLF_TRY(expect(r, field, wt, WT_VARINT));
    CLF_TRY(read_varint(r, &v));
    *out = v != 0;
    return CLF_OK;
}

static clf_status read_bytes_field(reader *r, uint32_t field, unsigned wt, bytes *out)
{
    CLF_TRY(expect(r, field, wt, WT_LEN));
    return read_len(r, out);
}

static reader sub_reader(const reader *r, bytes b, const char *where)
{
    reader s = {b.p, b.p + b.n, r->base, r->name, where};
    return s;
}

static clf_status parse_piece(reader *r, parsed *m)
{
    if (m->n >= CLF__SPM_MAX_PIECES) return bad(r, "more than 16777216 pieces");
    if (m->n == m->cap) {
        int32_t cap = m->cap ? m->cap * 2 : 1024;
        const char **piece = clf__realloc(m->piece, (size_t)cap * sizeof *piece);
        if (piece) m->piece = piece;
        uint32_t *len = clf__realloc(m->len, (size_t)cap * sizeof *len);
        if (len) m->len = len;
        float *score = clf__realloc(m->score, (size_t)cap * sizeof *score);
        if (score) m->score = score;
        uint8_t *type = clf__realloc(m->type, (size_t)cap * sizeof *type);
        if (type) m->type = type;
        if (!piece || !len || !score || !type)
            return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", r->name);
        m->cap = cap;
    }
    int32_t i = m->n++;
    m->piece[i] = "";
    m->len[i] = 0;
    m->score[i] = 0.0f;
    m->type[i] = CLF__SPM_NORMAL; /* the proto's default */
    while (r->p < r->end) {
        uint32_t field;
        unsigned wt;
        CLF_TRY(read_key(r, &field, &wt));
        if (field == SP_PIECE) {
            bytes b;
            CLF_TRY(read_bytes_field(r, field, wt, &b));
            if (b.n > CLF__SPM_MAX_PIECE_BYTES) return bad(r, "piece longer than 4096 bytes");
            m->piece[i] = (const char *)b.p;
            m->len[i] = (uint32_t)b.n;
        } else if (field == SP_SCORE) {
            CLF_TRY(expect(r, field, wt, WT_I32));
            if (r->end - r->p < 4) return bad(r, "truncated score");
            uint32_t u = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                         (uint32_t)r->p[3] << 24;
            memcpy(&m->score[i], &u, 4);
            r->p += 4;
        } else if (field == SP_TYPE) {
            uint64_t t;
            CLF_TRY(expect(r, field, wt, WT_VARINT));
            CLF_TRY(read_varint(r, &t));
            if (t < CLF__SPM_NORMAL || t > CLF__SPM_BYTE) {
                char what[80];
                snprintf(what, sizeof what, "piece %d has type %llu, not one of 1..6", (int)i,
                         (unsigned long long)t);
                return bad(r, what);
            }
            m->type[i] = (uint8_t)t;
        } else {
            CLF_TRY(skip_field(r, wt));
        }
    }
    return CLF_OK;
}

static clf_status parse_trainer(reader *r, parsed *m)
{
    while (r->p < r->end) {
        uint32_t field;
        unsigned wt;
        CLF_TRY(read_key(r, &field, &wt));
        switch (field) {
        case TS_MODEL_TYPE: {
            uint64_t v;
            CLF_TRY(expect(r, field, wt, WT_VARINT));
            CLF_TRY(read_varint(r, &v));
            m->model_type = (int64_t)(v & 0x7FFFFFFFFFFFFFFFull);
            break;
        }
        case TS_TREAT_WS_AS_SUFFIX: CLF_TRY(read_bool(r, field, wt, &m->ws_suffix)); break;
        case TS_BYTE_FALLBACK: CLF_TRY(read_bool(r, field, wt, &m->byte_fallback)); break;
        case TS_UNK_SURFACE:
            CLF_TRY(read_bytes_field(r, field, wt, &m->unk_surface));
            m->has_unk_surface = true;
            break;
        case TS_BOS_PIECE: CLF_TRY(read_bytes_field(r, field, wt, &m->bos)); break;
        case TS_EOS_PIECE: CLF_TRY(read_bytes_field(r, field, wt, &m->eos)); break;
        case TS_PAD_PIECE: CLF_TRY(read_bytes_field(r, field, wt, &m->pad)); break;
        default: CLF_TRY(skip_field(r, wt));
        }
    }
    return CLF_OK;
}

static clf_status parse_normalizer(reader *r, parsed *m)
{
    while (r->p < r->end) {
        uint32_t field;
        unsigned wt;
        bytes name;
        CLF_TRY(read_key(r, &field, &wt));
        switch (field) {
        case NS_NAME: CLF_TRY(read_bytes_field(r, field, wt, &name)); break;
        case NS_CHARSMAP: CLF_TRY(read_bytes_field(r, field, wt, &m->charsmap)); break;
        case NS_ADD_DUMMY_PREFIX: CLF_TRY(read_bool(r, field, wt, &m->add_dummy_prefix)); break;
        case NS_REMOVE_EXTRA_WS: CLF_TRY(read_bool(r, field, wt, &m->remove_extra_ws)); break;
        case NS_ESCAPE_WS: CLF_TRY(read_bool(r, field, wt, &m->escape_ws)); break;
        default: CLF_TRY(skip_field(r, wt));
        }
    }
    return CLF_OK;
}

/* The denormalizer is read only to refuse what the engine cannot apply. */
static clf_status check_denormalizer(reader *r)
{
    while (r->p < r->end) {
        uint32_t field;
        unsigned wt;
        bytes b;
        CLF_TRY(read_key(r, &field, &wt));
        if (field == NS_CHARSMAP) {
            CLF_TRY(read_bytes_field(r, field, wt, &b));
            if (b.n)
                return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                                  "%s: the model has a denormalizer (a decode-side character "
                                  "map), which clformer does not apply",
                                  r->name);
        } else {
            CLF_TRY(skip_field(r, wt));
        }
    }
    return CLF_OK;
}

static clf_status parse_model(reader *r, parsed *m)
{
    while (r->p < r->end) {
        uint32_t field;
        unsigned wt;
        bytes b;
        CLF_TRY(read_key(r, &field, &wt));
        if (field == MP_PIECES || field == MP_TRAINER || field == MP_NORMALIZER ||
            field == MP_DENORMALIZER) {
            CLF_TRY(read_bytes_field(r, field, wt, &b));
            reader s;
            switch (field) {
            case MP_PIECES:
                s = sub_reader(r, b, "a piece");
                CLF_TRY(parse_piece(&s, m));
                break;
            case MP_TRAINER:
                s = sub_reader(r, b, "trainer_spec");
                CLF_TRY(parse_trainer(&s, m));
                break;
            case MP_NORMALIZER:
                s = sub_reader(r, b, "normalizer_spec");
                CLF_TRY(parse_normalizer(&s, m));
                break;
            default:
                s = sub_reader(r, b, "denormalizer_spec");
                CLF_TRY(check_denormalizer(&s));
            }
        } else {
            CLF_TRY(skip_field(r, wt));
        }
    }
    return CLF_OK;
}

static const char *opt_text(bytes b, char *buf, size_t size, const char *fallback)
{
    if (!b.p || b.n == 0 || b.n >= size) return fallback;
    memcpy(buf, b.p, b.n);
    buf[b.n] = '\0';
    return buf;
}

clf_status clf__spm_parse(const uint8_t *data, size_t size, const char *name, clf__spm **out)
{
    *out = NULL;
    if (!name) name = "(sentencepiece model)";
    if (size > CLF__SPM_MAX_FILE)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu bytes is too large", name, size);
    if (size == 0) return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: empty file", name);
    if (!data) return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: no data", name);
    parsed m = {0};
    m.model_type = CLF__SPM_UNIGRAM; /* the proto's defaults */
    m.add_dummy_prefix = m.remove_extra_ws = m.escape_ws = true;
    reader r = {data, data + size, data, name, "the model"};
    clf_status s = parse_model(&r, &m);
    if (s == CLF_OK && (m.model_type != CLF__SPM_UNIGRAM && m.model_type != CLF__SPM_BPE)) {
        const char *kind = m.model_type == 3 ? "WORD" : m.model_type == 4 ? "CHAR" : "unknown";
        s = clf__error(NULL, m.model_type == 3 || m.model_type == 4 ? CLF_ERR_UNSUPPORTED
                                                                    : CLF_ERR_BAD_MODEL,
                       "%s: model type %lld (%s) is not supported (Unigram = 1, BPE = 2)", name,
                       (long long)m.model_type, kind);
    }
    if (s == CLF_OK) {
        char bos[64], eos[64], pad[64];
        clf__spm_desc d = {
            .n_pieces = m.n,
            .pieces = m.piece,
            .lens = m.len,
            .scores = m.score,
            .types = m.type,
            .algo = (clf__spm_algo)m.model_type,
            .byte_fallback = m.byte_fallback,
            .add_dummy_prefix = m.add_dummy_prefix,
            .remove_extra_whitespaces = m.remove_extra_ws,
            .escape_whitespaces = m.escape_ws,
            .treat_whitespace_as_suffix = m.ws_suffix,
            .charsmap = m.charsmap.p,
            .charsmap_len = m.charsmap.n,
            .unk_surface = m.has_unk_surface ? (const char *)m.unk_surface.p : NULL,
            .unk_surface_len = m.unk_surface.n,
            .bos_piece = opt_text(m.bos, bos, sizeof bos, "<s>"),
            .eos_piece = opt_text(m.eos, eos, sizeof eos, "</s>"),
            .pad_piece = opt_text(m.pad, pad, sizeof pad, "<pad>"),
        };
        if (d.unk_surface && d.unk_surface_len == 0) d.unk_surface = "";
        s = clf__spm_build(&d, name, out);
    }
    clf__free(m.piece);
    clf__free(m.len);
    clf__free(m.score);
    clf__free(m.type);
    return s;
}

clf_status clf__spm_load(const char *path, clf__spm **out)
{
    if (!out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm load: out is NULL");
    *out = NULL;
    if (!path) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm load: path is NULL");
    char *data = NULL, msg[1024];
    size_t len = 0;
    clf_status s = clf__file_read_all(path, CLF__SPM_MAX_FILE, &data, &len, msg, sizeof msg);
    if (s != CLF_OK) return clf__error(NULL, s, "sentencepiece model %s", msg);
    s = clf__spm_parse((const uint8_t *)data, len, path, out);
    clf__free(data);
    return s;
}
