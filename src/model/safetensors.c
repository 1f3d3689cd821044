/*
 * A strict safetensors reader (rules in safetensors.h). The header's JSON is
 * read by a small schema-driven reader: it knows where objects, arrays,
 * strings and integers may appear, so it needs no recursion and no JSON
 * library, and every byte it looks at is checked against the end first.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "model/safetensors.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[CLF__ST_DTYPE_COUNT] = {
    [CLF__ST_BOOL] = {"BOOL", 1},       [CLF__ST_U8] = {"U8", 1},
    [CLF__ST_I8] = {"I8", 1},           [CLF__ST_F8_E5M2] = {"F8_E5M2", 1},
    [CLF__ST_F8_E4M3] = {"F8_E4M3", 1}, [CLF__ST_I16] = {"I16", 2},
    [CLF__ST_U16] = {"U16", 2},         [CLF__ST_F16] = {"F16", 2},
    [CLF__ST_BF16] = {"BF16", 2},       [CLF__ST_I32] = {"I32", 4},
    [CLF__ST_U32] = {"U32", 4},         [CLF__ST_F32] = {"F32", 4},
    [CLF__ST_F64] = {"F64", 8},         [CLF__ST_I64] = {"I64", 8},
    [CLF__ST_U64] = {"U64", 8},
};

const char *clf__st_dtype_name(clf__st_dtype dtype)
{
    return (unsigned)dtype < CLF__ST_DTYPE_COUNT ? dtypes[dtype].name : "?";
}

size_t clf__st_dtype_size(clf__st_dtype dtype)
{
    return (unsigned)dtype < CLF__ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

/* ---- parser state ---- */

typedef struct reader {
    const uint8_t *hdr;      /* first byte of the JSON header */
    const uint8_t *p, *end;  /* cursor and end of the header */
    size_t data_size;        /* bytes in the data section */
    const char *origin;      /* "safetensors" or the file's path, for messages */
    char *msg;               /* CLF__ST_MSG_SIZE bytes */
    clf__st_tensor *tensors; /* (cap) */
    size_t n, cap;
    clf__st_meta *meta; /* (cap_meta) */
    size_t n_meta, cap_meta;
    int have_meta;
} reader;

static clf_status fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static clf_status fail(reader *r, const char *fmt, ...)
{
    int k = snprintf(r->msg, CLF__ST_MSG_SIZE, "%s: ", r->origin);
    if (k < 0 || k >= CLF__ST_MSG_SIZE) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg + k, CLF__ST_MSG_SIZE - (size_t)k, fmt, ap);
    va_end(ap);
    return CLF_ERR_BAD_MODEL;
}

static clf_status oom(reader *r)
{
    snprintf(r->msg, CLF__ST_MSG_SIZE, "%s: out of host memory while reading the header", r->origin);
    return CLF_ERR_OUT_OF_MEMORY;
}

/* Byte position in the file (header starts at 8), for messages. */
static size_t pos(const reader *r) { return 8 + (size_t)(r->p - r->hdr); }

/* A printable, quoted, truncated copy of a (valid UTF-8) name for messages. */
static const char *show(const char *s, size_t len, char buf[96])
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o > 80) {
            /* Cut before a continuation byte never splits a character. */
            while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
                o--, i--;
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\') {
            o += (size_t)snprintf(buf + o, 8, "\\x%02X", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* What the cursor is at, for "expected X, found Y" messages. */
static const char *found(const reader *r, char buf[16])
{
    if (r->p >= r->end) return "the end of the header";
    unsigned char c = *r->p;
    if (c >= 0x21 && c < 0x7F)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02X", c);
    return buf;
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* Skips whitespace and consumes c, or fails naming what was expected. */
static clf_status expect(reader *r, char c, const char *what)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == (uint8_t)c) {
        r->p++;
        return CLF_OK;
    }
    char b[16];
    return fail(r, "header byte %zu: expected '%c' %s, found %s", pos(r), c, what, found(r, b));
}

/* Consumes ',' (returns 1) or close (returns 0); anything else fails. */
static clf_status next_or_close(reader *r, char close, const char *what, int *more)
{
    skip_ws(r);
    if (r->p < r->end && (*r->p == ',' || *r->p == (uint8_t)close)) {
        *more = *r->p == ',';
        r->p++;
        return CLF_OK;
    }
    char b[16];
    return fail(r, "header byte %zu: expected ',' or '%c' %s, found %s", pos(r), close, what,
                found(r, b));
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not valid. */
static size_t utf8_seq(const uint8_t *s, const uint8_t *end)
{
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        n = 3;
    else if (c == 0xED)
        n = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        n = 3;
    else if (c == 0xF0)
        n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi = 0x8F;
    else
        return 0;
    if ((size_t)(end - s) < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* ---- strings ---- */

static int hex4(const uint8_t *s, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 0;
        x = x << 4 | d;
    }
    *v = x;
    return 1;
}

/* Checks the JSON string at the cursor (after whitespace) and moves past it;
 * [*raw, *raw + *raw_len) is its body between the quotes. The body's decoded
 * form is at most raw_len bytes. The header was checked as UTF-8 already, so
 * only escapes and control characters are checked here. */
static clf_status scan_string(reader *r, const char *what, const uint8_t **raw, size_t *raw_len)
{
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') {
        char b[16];
        return fail(r, "header byte %zu: expected %s (a string), found %s", pos(r), what,
                    found(r, b));
    }
    const uint8_t *start = ++r->p;
    for (;;) {
        if (r->p >= r->end)
            return fail(r, "header byte %zu: unterminated string (%s)", pos(r), what);
        uint8_t c = *r->p;
        if (c == '"') break;
        if (c < 0x20)
            return fail(r, "header byte %zu: control character 0x%02X in a string (%s)", pos(r), c,
                        what);
        if (c != '\\') {
            r->p++;
            continue;
        }
        if (r->end - r->p < 2)
            return fail(r, "header byte %zu: unterminated escape (%s)", pos(r), what);
        uint8_t e = r->p[1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return fail(r, "header byte %zu: invalid escape in a string (%s)", pos(r), what);
            r->p += 2;
            continue;
        }
        unsigned u;
        if (r->end - r->p < 6 || !hex4(r->p + 2, &u))
            return fail(r, "header byte %zu: invalid \\u escape (%s)", pos(r), what);
        if (u == 0)
            return fail(r, "header byte %zu: \\u0000 (NUL) is not allowed in a string (%s)", pos(r),
                        what);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(r, "header byte %zu: lone low surrogate \\u%04X (%s)", pos(r), u, what);
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (r->end - r->p < 12 || r->p[6] != '\\' || r->p[7] != 'u' || !hex4(r->p + 8, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return fail(r, "header byte %zu: high surrogate \\u%04X without a low one (%s)",
                            pos(r), u, what);
            r->p += 12;
        } else {
            r->p += 6;
        }
    }
    *raw = start;
    *raw_len = (size_t)(r->p - start);
    r->p++; /* the closing quote */
    return CLF_OK;
}

static size_t put_utf8(char *d, unsigned u)
{
    if (u < 0x80) {
        d[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        d[0] = (char)(0xC0 | u >> 6);
        d[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        d[0] = (char)(0xE0 | u >> 12);
        d[1] = (char)(0x80 | (u >> 6 & 0x3F));
        d[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | u >> 18);
    d[1] = (char)(0x80 | (u >> 12 & 0x3F));
    d[2] = (char)(0x80 | (u >> 6 & 0x3F));
    d[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

/* Decodes a body accepted by scan_string into dst (raw_len + 1 bytes);
 * returns the decoded length and NUL-terminates. */
static size_t decode_string(const uint8_t *s, size_t raw_len, char *dst)
{
    size_t o = 0;
    const uint8_t *end = s + raw_len;
    while (s < end) {
        if (*s != '\\') {
            dst[o++] = (char)*s++;
            continue;
        }
        uint8_t e = s[1];
        s += 2;
        switch (e) {
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            unsigned u = 0, lo = 0xDC00;
            hex4(s, &u);
            s += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                hex4(s + 2, &lo);
                s += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += put_utf8(dst + o, u);
            break;
        }
        default: dst[o++] = (char)e; break; /* " \ / */
        }
    }
    dst[o] = '\0';
    return o;
}

/* A new heap copy of the decoded string at the cursor. */
static clf_status read_string(reader *r, const char *what, char **out, size_t *len)
{
    const uint8_t *raw;
    size_t raw_len;
    CLF_TRY(scan_string(r, what, &raw, &raw_len));
    char *s = clf__malloc(raw_len + 1);
    if (!s) return oom(r);
    *len = decode_string(raw, raw_len, s);
    *out = s;
    return CLF_OK;
}

/* A short decoded string (keys, dtypes) into buf[32]; longer ones become ""
 * with *too_long set, which matches nothing we know. */
static clf_status read_short(reader *r, const char *what, char buf[32], int *too_long)
{
    const uint8_t *raw;
    size_t raw_len;
    CLF_TRY(scan_string(r, what, &raw, &raw_len));
    *too_long = raw_len > 31;
    if (*too_long)
        buf[0] = '\0';
    else
        decode_string(raw, raw_len, buf);
    return CLF_OK;
}

/* ---- integers ---- */

/* A non-negative JSON integer that fits in int64_t. */
static clf_status read_uint(reader *r, const char *what, const char *name, uint64_t *v)
{
    skip_ws(r);
    char b[16], nb[96];
    if (r->p < r->end && *r->p == '-')
        return fail(r, "header byte %zu: tensor %s: %s is negative", pos(r),
                    show(name, strlen(name), nb), what);
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return fail(r, "header byte %zu: tensor %s: expected an integer %s, found %s", pos(r),
                    show(name, strlen(name), nb), what, found(r, b));
    const uint8_t *start = r->p;
    uint64_t x = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        unsigned d = (unsigned)(*r->p - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return fail(r, "header byte %zu: tensor %s: %s overflows a 64-bit integer", pos(r),
                        show(name, strlen(name), nb), what);
        x = x * 10 + d;
        r->p++;
    }
    if (*start == '0' && r->p - start > 1)
        return fail(r, "header byte %zu: tensor %s: %s has a leading zero",
                    (size_t)(8 + start - r->hdr), show(name, strlen(name), nb), what);
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return fail(r, "header byte %zu: tensor %s: %s is not an integer", pos(r),
                    show(name, strlen(name), nb), what);
    *v = x;
    return CLF_OK;
}

/* ---- entries ---- */

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 1;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = clf__realloc(*arr, c * elem);
    if (!p) return 0;
    *arr = p;
    *cap = c;
    return 1;
}

static clf_status read_shape(reader *r, clf__st_tensor *t)
{
    char nb[96];
    CLF_TRY(expect(r, '[', "to open the shape"));
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return CLF_OK;
    }
    for (int more = 1; more;) {
        if (t->n_dims == CLF__ST_MAX_DIMS)
            return fail(r, "header byte %zu: tensor %s has more than %d dimensions", pos(r),
                        show(t->name, t->name_len, nb), CLF__ST_MAX_DIMS);
        uint64_t d;
        CLF_TRY(read_uint(r, "shape dimension", t->name, &d));
        t->shape[t->n_dims++] = (int64_t)d;
        CLF_TRY(next_or_close(r, ']', "in the shape", &more));
    }
    return CLF_OK;
}

static clf_status read_offsets(reader *r, clf__st_tensor *t)
{
    uint64_t b, e;
    CLF_TRY(expect(r, '[', "to open data_offsets"));
    CLF_TRY(read_uint(r, "data_offsets begin", t->name, &b));
    CLF_TRY(expect(r, ',', "in data_offsets (it has two integers)"));
    CLF_TRY(read_uint(r, "data_offsets end", t->name, &e));
    CLF_TRY(expect(r, ']', "after the two data_offsets"));
#if SIZE_MAX < UINT64_MAX
    /* Both fit in int64_t, but not always in a 32-bit size_t. */
    if (b > SIZE_MAX || e > SIZE_MAX) {
        char nb[96];
        return fail(r, "tensor %s: data_offsets do not fit in memory",
                    show(t->name, t->name_len, nb));
    }
#endif
    t->begin = (size_t)b;
    t->end = (size_t)e;
    return CLF_OK;
}

/* Checks one parsed entry against itself and the data section. */
static clf_status check_tensor(reader *r, clf__st_tensor *t)
{
    char nb[96];
    const char *nm = show(t->name, t->name_len, nb);
    uint64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) {
        uint64_t d = (uint64_t)t->shape[i];
        if (d != 0 && n > (uint64_t)INT64_MAX / d)
            return fail(r, "tensor %s: element count of its shape overflows", nm);
        n *= d;
    }
    t->n_elements = (int64_t)n;
    if (n > (uint64_t)INT64_MAX / t->dtype_size)
        return fail(r, "tensor %s: byte size (%llu elements of %s) overflows", nm,
                    (unsigned long long)n, dtypes[t->dtype].name);
    uint64_t bytes = n * t->dtype_size;
    if (t->begin > t->end)
        return fail(r, "tensor %s: data_offsets begin %zu is after end %zu", nm, t->begin, t->end);
    if (t->end > r->data_size)
        return fail(r, "tensor %s: data_offsets [%zu, %zu) run past the data section (%zu bytes)",
                    nm, t->begin, t->end, r->data_size);
    if (bytes != t->end - t->begin)
        return fail(r,
                    "tensor %s: shape and dtype %s give %llu bytes but data_offsets [%zu, %zu) "
                    "span %zu",
                    nm, dtypes[t->dtype].name, (unsigned long long)bytes, t->begin, t->end,
                    t->end - t->begin);
    return CLF_OK;
}

/* The entry object of tensor t (its name is set). */
static clf_status read_tensor(reader *r, clf__st_tensor *t)
{
    char nb[96], key[32];
    int seen_dtype = 0, seen_shape = 0, seen_offsets = 0, too_long;
    CLF_TRY(expect(r, '{', "to open a tensor entry"));
    skip_ws(r);
    if (r->p < r->end && *r->p == '}')
        return fail(r, "header byte %zu: tensor %s: empty entry", pos(r),
                    show(t->name, t->name_len, nb));
    for (int more = 1; more;) {
        size_t key_pos = 0;
        skip_ws(r);
        key_pos = pos(r);
        CLF_TRY(read_short(r, "a key of a tensor entry", key, &too_long));
        CLF_TRY(expect(r, ':', "after a key"));
        int *seen;
        if (!too_long && !strcmp(key, "dtype"))
            seen = &seen_dtype;
        else if (!too_long && !strcmp(key, "shape"))
            seen = &seen_shape;
        else if (!too_long && !strcmp(key, "data_offsets"))
            seen = &seen_offsets;
        else {
            char kb[96];
            return fail(r,
                        "header byte %zu: tensor %s: unknown key %s (expected dtype, shape, "
                        "data_offsets)",
                        key_pos, show(t->name, t->name_len, nb),
                        too_long ? "(too long)" : show(key, strlen(key), kb));
        }
        if (*seen)
            return fail(r, "header byte %zu: tensor %s: key %s appears twice", key_pos,
                        show(t->name, t->name_len, nb), key);
        *seen = 1;
        if (seen == &seen_dtype) {
            char dt[32];
            size_t dt_pos = (skip_ws(r), pos(r));
            CLF_TRY(read_short(r, "the dtype", dt, &too_long));
            int k = -1;
            for (int i = 0; !too_long && i < CLF__ST_DTYPE_COUNT; i++)
                if (!strcmp(dt, dtypes[i].name)) k = i;
            if (k < 0) {
                char db[96];
                return fail(r, "header byte %zu: tensor %s: unknown dtype %s", dt_pos,
                            show(t->name, t->name_len, nb),
                            too_long ? "(too long)" : show(dt, strlen(dt), db));
            }
            t->dtype = (clf__st_dtype)k;
            t->dtype_size = dtypes[k].size;
        } else if (seen == &seen_shape) {
            CLF_TRY(read_shape(r, t));
        } else {
            CLF_TRY(read_offsets(r, t));
        }
        CLF_TRY(next_or_close(r, '}', "in a tensor entry", &more));
    }
    if (!seen_dtype || !seen_shape || !seen_offsets)
        return fail(r, "tensor %s: entry lacks %s", show(t->name, t->name_len, nb),
                    !seen_dtype   ? "dtype"
                    : !seen_shape ? "shape"
                                  : "data_offsets");
    return check_tensor(r, t);
}

static clf_status read_metadata(reader *r)
{
    if (r->have_meta) return fail(r, "header byte %zu: __metadata__ appears twice", pos(r));
    r->have_meta = 1;
    skip_ws(r);
    if (r->end - r->p >= 4 && !memcmp(r->p, "null", 4)) {
        r->p += 4;
        return CLF_OK;
    }
    if (r->p >= r->end || *r->p != '{') {
        char b[16];
        return fail(r, "header byte %zu: __metadata__ must be an object of strings, found %s",
                    pos(r), found(r, b));
    }
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return CLF_OK;
    }
    for (int more = 1; more;) {
        if (!grow((void **)&r->meta, &r->cap_meta, r->n_meta, sizeof *r->meta)) return oom(r);
        clf__st_meta *m = &r->meta[r->n_meta];
        m->key = m->value = NULL;
        char *s;
        size_t len;
        CLF_TRY(read_string(r, "a __metadata__ key", &s, &len));
        m->key = s;
        r->n_meta++; /* owned by the reader from here on */
        CLF_TRY(expect(r, ':', "after a __metadata__ key"));
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"') {
            char b[16], nb[96];
            return fail(r, "header byte %zu: __metadata__ value of %s is not a string (found %s)",
                        pos(r), show(m->key, strlen(m->key), nb), found(r, b));
        }
        CLF_TRY(read_string(r, "a __metadata__ value", &s, &len));
        m->value = s;
        CLF_TRY(next_or_close(r, '}', "in __metadata__", &more));
    }
    return CLF_OK;
}

static clf_status read_header(reader *r)
{
    CLF_TRY(expect(r, '{', "to open the header object"));
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (int more = 1; more;) {
            char *name;
            size_t len;
            if (!grow((void **)&r->tensors, &r->cap, r->n, sizeof *r->tensors)) return oom(r);
            CLF_TRY(read_string(r, "a tensor name", &name, &len));
            clf_status st = expect(r, ':', "after a tensor name");
            if (st != CLF_OK) {
                clf__free(name);
                return st;
            }
            if (!strcmp(name, "__metadata__")) {
                clf__free(name);
                CLF_TRY(read_metadata(r));
            } else {
                clf__st_tensor *t = &r->tensors[r->n++];
                memset(t, 0, sizeof *t);
                t->name = name;
                t->name_len = len;
                CLF_TRY(read_tensor(r, t));
            }
            CLF_TRY(next_or_close(r, '}', "in the header object", &more));
        }
    }
    skip_ws(r);
    if (r->p != r->end)
        return fail(r, "header byte %zu: trailing bytes after the header object", pos(r));
    return CLF_OK;
}

/* ---- whole-file checks ---- */

static int by_offset(const void *a, const void *b)
{
    const clf__st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const clf__st_tensor *const *)a)->name,
                  (*(const clf__st_tensor *const *)b)->name);
}

static int meta_by_key(const void *a, const void *b)
{
    return strcmp(((const clf__st_meta *)a)->key, ((const clf__st_meta *)b)->key);
}

static clf_status check_layout(reader *r, const clf__st_tensor **names)
{
    char nb[96], nb2[96];
    if (r->n > 1) qsort(r->tensors, r->n, sizeof *r->tensors, by_offset);
    for (size_t i = 0; i < r->n; i++)
        names[i] = &r->tensors[i];
    if (r->n > 1) qsort(names, r->n, sizeof *names, by_name);
    for (size_t i = 1; i < r->n; i++)
        if (!strcmp(names[i]->name, names[i - 1]->name))
            return fail(r, "tensor name %s appears twice",
                        show(names[i]->name, names[i]->name_len, nb));
    if (r->n_meta > 1) qsort(r->meta, r->n_meta, sizeof *r->meta, meta_by_key);
    for (size_t i = 1; i < r->n_meta; i++)
        if (!strcmp(r->meta[i].key, r->meta[i - 1].key))
            return fail(r, "__metadata__ key %s appears twice",
                        show(r->meta[i].key, strlen(r->meta[i].key), nb));

    /* Sorted by offset, the tensors must tile the data section exactly. */
    size_t at = 0;
    for (size_t i = 0; i < r->n; i++) {
        const clf__st_tensor *t = &r->tensors[i];
        if (t->begin < at)
            return fail(r, "tensor %s [%zu, %zu) overlaps tensor %s [%zu, %zu)",
                        show(t->name, t->name_len, nb), t->begin, t->end,
                        show(r->tensors[i - 1].name, r->tensors[i - 1].name_len, nb2),
                        r->tensors[i - 1].begin, r->tensors[i - 1].end);
        if (t->begin > at)
            return fail(r, "data section has unused bytes [%zu, %zu) before tensor %s", at,
                        t->begin, show(t->name, t->name_len, nb));
        at = t->end;
    }
    if (at != r->data_size)
        return fail(r, "data section has %zu bytes but the tensors cover only [0, %zu)",
                    r->data_size, at);
    return CLF_OK;
}

static void free_reader(reader *r)
{
    for (size_t i = 0; i < r->n; i++)
        clf__free((char *)r->tensors[i].name);
    for (size_t i = 0; i < r->n_meta; i++) {
        clf__free((char *)r->meta[i].key);
        clf__free((char *)r->meta[i].value);
    }
    clf__free(r->tensors);
    clf__free(r->meta);
}

/* The header length N from the first 8 bytes of a file of size bytes
 * (first8 is not read when size < 8). */
static clf_status check_length(reader *r, const uint8_t *first8, uint64_t size, uint64_t *n_out)
{
    if (size < 8)
        return fail(r, "file is %llu bytes, shorter than the 8-byte header length",
                    (unsigned long long)size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | first8[i];
    if (n == 0) return fail(r, "header length is 0");
    if (n > CLF__ST_MAX_HEADER)
        return fail(r, "header length %llu exceeds the limit of %u bytes", (unsigned long long)n,
                    CLF__ST_MAX_HEADER);
    if (n > size - 8)
        return fail(r, "header length %llu runs past the end of the file (%llu bytes)",
                    (unsigned long long)n, (unsigned long long)size);
    *n_out = n;
    return CLF_OK;
}

/* Parses the n header bytes at hdr of a file whose data section has
 * data_size bytes. The result holds copies of every name and value, so hdr
 * may be freed afterwards; tensor data pointers are left NULL. */
static clf_status parse_header(reader *r, const uint8_t *hdr, size_t n, size_t data_size,
                               clf__safetensors **out)
{
    r->hdr = r->p = hdr;
    r->end = hdr + n;
    r->data_size = data_size;

    for (const uint8_t *s = r->hdr; s < r->end;) {
        size_t k = utf8_seq(s, r->end);
        if (!k) {
            r->p = s;
            return fail(r, "header byte %zu: invalid UTF-8", pos(r));
        }
        s += k;
    }

    clf_status st = read_header(r);
    const clf__st_tensor **names = NULL;
    clf__safetensors *f = NULL;
    if (st == CLF_OK) {
        names = clf__malloc(r->n * sizeof *names);
        f = clf__calloc(1, sizeof *f);
        if (!names || !f) st = oom(r);
    }
    if (st == CLF_OK) st = check_layout(r, names);
    if (st != CLF_OK) {
        free_reader(r);
        clf__free(names);
        clf__free(f);
        return st;
    }
    for (size_t i = 0; i < r->n; i++)
        r->tensors[i].file_ = f;
    f->n_tensors = r->n;
    f->tensors = r->tensors;
    f->n_meta = r->n_meta;
    f->meta = r->meta;
    f->header_size = n;
    f->data_size = r->data_size;
    f->by_name_ = names;
    f->fd_ = -1;
    *out = f;
    return CLF_OK;
}

clf_status clf__st_report(clf_status st, const char *msg, char *err, size_t err_size)
{
    if (st == CLF_OK) {
        if (err && err_size) err[0] = '\0';
        return st;
    }
    if (err && err_size) snprintf(err, err_size, "%s", msg);
    return clf__error(NULL, st, "%s", msg);
}

clf_status clf__st_parse_file_header(const uint8_t *first8, uint64_t size, const char *origin,
                                     uint64_t *n, char *msg)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.origin = origin;
    r.msg = msg;
    return check_length(&r, first8, size, n);
}

clf_status clf__st_parse_header(const uint8_t *hdr, size_t n, size_t data_size,
                                const char *origin, clf__safetensors **out, char *msg)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.origin = origin;
    r.msg = msg;
    return parse_header(&r, hdr, n, data_size, out);
}

clf_status clf__safetensors_parse(const uint8_t *data, size_t size, clf__safetensors **out,
                                  char *err, size_t err_size)
{
    char msg[CLF__ST_MSG_SIZE];
    if (out) *out = NULL;
    if (!out || (!data && size)) {
        snprintf(msg, sizeof msg, "clf__safetensors_parse: %s is NULL", out ? "data" : "out");
        return clf__st_report(CLF_ERR_INVALID_ARG, msg, err, err_size);
    }
    reader r;
    memset(&r, 0, sizeof r);
    r.origin = "safetensors";
    r.msg = msg;
    uint64_t n = 0;
    clf_status st = check_length(&r, data, size, &n);
    if (st == CLF_OK) st = parse_header(&r, data + 8, (size_t)n, size - 8 - (size_t)n, out);
    if (st == CLF_OK) {
        /* The whole file is in memory: tensors point into it. */
        clf__safetensors *f = *out;
        f->data = data + 8 + n;
        for (size_t i = 0; i < f->n_tensors; i++)
            ((clf__st_tensor *)f->tensors)[i].data = f->data + f->tensors[i].begin;
    }
    return clf__st_report(st, msg, err, err_size);
}

void clf__safetensors_free(clf__safetensors *st)
{
    if (!st) return;
    reader r;
    memset(&r, 0, sizeof r);
    r.tensors = (clf__st_tensor *)st->tensors;
    r.n = st->n_tensors;
    r.meta = (clf__st_meta *)st->meta;
    r.n_meta = st->n_meta;
    free_reader(&r);
    clf__free(st->by_name_);
    if (st->fd_ >= 0) close(st->fd_);
    clf__free(st->path_);
    clf__free(st);
}
