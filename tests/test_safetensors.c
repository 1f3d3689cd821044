/* Host tests: the safetensors reader (src/model/safetensors.c). Valid files
 * of every dtype, every hostile case of TESTING.md level 5, allocation
 * failure at every step, the file loader, and the f16/bf16 converters on all
 * 65536 bit patterns. Files are built in memory by mk() below. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/core.h"
#include "model/safetensors.h"

/* A file: u64 LE length of json, json, then data_len bytes (i & 0xFF, or
 * data when given). Exactly-sized heap block, so ASan sees any overread. */
static uint8_t *mk_raw(const char *json, size_t json_len, const void *data, size_t data_len,
                       size_t *size)
{
    *size = 8 + json_len + data_len;
    uint8_t *f = malloc(*size);
    cr_assert_not_null(f);
    for (int i = 0; i < 8; i++)
        f[i] = (uint8_t)((uint64_t)json_len >> (8 * i));
    memcpy(f + 8, json, json_len);
    for (size_t i = 0; i < data_len; i++)
        f[8 + json_len + i] = data ? ((const uint8_t *)data)[i] : (uint8_t)(i * 7 + 1);
    return f;
}

static uint8_t *mk(const char *json, size_t data_len, size_t *size)
{
    return mk_raw(json, strlen(json), NULL, data_len, size);
}

/* Parses; on failure checks that the status is BAD_MODEL, that nothing
 * leaked and that the message contains want. */
static void expect_bad(const uint8_t *f, size_t size, const char *want, const char *what)
{
    long live = clf__alloc_live();
    clf__safetensors *st = (clf__safetensors *)1;
    char err[512];
    clf_status s = clf__safetensors_parse(f, size, &st, err, sizeof err);
    cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s: status %s, message '%s'", what, clf_status_name(s),
                 s == CLF_OK ? "" : err);
    cr_assert_null(st, "%s: *out is NULL on failure", what);
    cr_assert_eq(clf__alloc_live(), live, "%s: leak", what);
    cr_assert(strstr(err, want), "%s: message '%s' lacks '%s'", what, err, want);
    cr_assert_str_eq(clf_context_last_error(NULL), err, "%s: thread last error", what);
}

static void bad_json(const char *json, size_t data_len, const char *want)
{
    size_t size;
    uint8_t *f = mk(json, data_len, &size);
    expect_bad(f, size, want, json);
    free(f);
}

static clf__safetensors *parse_ok(const uint8_t *f, size_t size, const char *what)
{
    clf__safetensors *st = NULL;
    char err[512];
    clf_status s = clf__safetensors_parse(f, size, &st, err, sizeof err);
    cr_assert_eq(s, CLF_OK, "%s: %s: %s", what, clf_status_name(s), err);
    cr_assert_not_null(st);
    return st;
}

Test(safetensors, every_dtype_parses_with_its_size)
{
    static const struct {
        const char *name;
        clf__st_dtype dt;
        size_t size;
    } cases[] = {
        {"BOOL", CLF__ST_BOOL, 1},       {"U8", CLF__ST_U8, 1},           {"I8", CLF__ST_I8, 1},
        {"F8_E5M2", CLF__ST_F8_E5M2, 1}, {"F8_E4M3", CLF__ST_F8_E4M3, 1}, {"I16", CLF__ST_I16, 2},
        {"U16", CLF__ST_U16, 2},         {"F16", CLF__ST_F16, 2},         {"BF16", CLF__ST_BF16, 2},
        {"I32", CLF__ST_I32, 4},         {"U32", CLF__ST_U32, 4},         {"F32", CLF__ST_F32, 4},
        {"F64", CLF__ST_F64, 8},         {"I64", CLF__ST_I64, 8},         {"U64", CLF__ST_U64, 8},
    };
    cr_assert_eq(CLF_ARRAY_LEN(cases), CLF__ST_DTYPE_COUNT, "every dtype is tested");
    for (size_t c = 0; c < CLF_ARRAY_LEN(cases); c++) {
        long live = clf__alloc_live();
        char json[256];
        size_t bytes = 2 * 3 * cases[c].size;
        snprintf(json, sizeof json,
                 "{\"w\":{\"dtype\":\"%s\",\"shape\":[2,3],\"data_offsets\":[0,%zu]}}",
                 cases[c].name, bytes);
        size_t size;
        uint8_t *f = mk(json, bytes, &size);
        clf__safetensors *st = parse_ok(f, size, cases[c].name);
        cr_assert_eq(st->n_tensors, 1);
        const clf__st_tensor *t = clf__st_find(st, "w");
        cr_assert_eq(t, &st->tensors[0]);
        cr_assert_str_eq(t->name, "w");
        cr_assert_eq(t->name_len, 1);
        cr_assert_eq(t->dtype, cases[c].dt, "%s", cases[c].name);
        cr_assert_eq(t->dtype_size, cases[c].size, "%s", cases[c].name);
        cr_assert_eq(clf__st_dtype_size(t->dtype), cases[c].size);
        cr_assert_str_eq(clf__st_dtype_name(t->dtype), cases[c].name);
        cr_assert_eq(t->n_dims, 2);
        cr_assert_eq(t->shape[0], 2);
        cr_assert_eq(t->shape[1], 3);
        cr_assert_eq(t->n_elements, 6);
        cr_assert_eq(t->begin, 0);
        cr_assert_eq(t->end, bytes);
        cr_assert_eq(t->data, f + 8 + strlen(json));
        cr_assert_eq(st->data, f + 8 + strlen(json));
        cr_assert_eq(st->data_size, bytes);
        cr_assert_eq(st->header_size, strlen(json));
        clf__safetensors_free(st);
        free(f);
        cr_assert_eq(clf__alloc_live(), live, "no leak");
    }
    cr_assert_str_eq(clf__st_dtype_name((clf__st_dtype)99), "?");
    cr_assert_eq(clf__st_dtype_size((clf__st_dtype)99), 0);
}

Test(safetensors, many_tensors_metadata_lookup_and_data_order)
{
    /* Header order differs from data order; names need escapes; padding. */
    const char *json =
        "  {\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\\u00e9 \\ud83d\\ude00\"},"
        "\"b.weight\":{\"shape\":[4],\"dtype\":\"F16\",\"data_offsets\":[24,32]},"
        "\"a\\/x\\n\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"empty\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[32,32]},"
        "\"scalar\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[32,36]},"
        "\"\\u00e9\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],"
        "\"data_offsets\":[36,38]}}     ";
    size_t size;
    uint8_t *f = mk(json, 38, &size);
    long live = clf__alloc_live();
    clf__safetensors *st = parse_ok(f, size, "many");
    cr_assert_eq(st->n_tensors, 5);
    const char *order[] = {"a/x\n", "b.weight", "empty", "scalar", "\xC3\xA9"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(st->tensors[i].name, order[i], "data order %zu", i);
        cr_assert_eq(clf__st_find(st, order[i]), &st->tensors[i]);
        cr_assert_eq(st->tensors[i].data, st->data + st->tensors[i].begin);
    }
    const clf__st_tensor *e = clf__st_find(st, "empty");
    cr_assert_eq(e->n_elements, 0);
    cr_assert_eq(e->begin, e->end);
    const clf__st_tensor *s = clf__st_find(st, "scalar");
    cr_assert_eq(s->n_dims, 0);
    cr_assert_eq(s->n_elements, 1);
    cr_assert_eq(clf__st_find(st, "\xC3\xA9")->n_dims, 8);
    cr_assert_null(clf__st_find(st, "missing"));
    cr_assert_null(clf__st_find(st, "__metadata__"));
    cr_assert_null(clf__st_find(st, NULL));
    cr_assert_eq(st->n_meta, 2);
    cr_assert_str_eq(clf__st_meta_get(st, "format"), "pt");
    cr_assert_str_eq(clf__st_meta_get(st, "note"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
    cr_assert_null(clf__st_meta_get(st, "nope"));
    clf__safetensors_free(st);
    clf__safetensors_free(NULL);
    cr_assert_eq(clf__alloc_live(), live, "no leak");
    free(f);
}

Test(safetensors, empty_header_object_and_null_metadata_are_valid)
{
    const char *ok[] = {"{}", "{}      ", " \t\r\n{ }\n", "{\"__metadata__\":null}",
                        "{\"__metadata__\":{}}"};
    for (size_t i = 0; i < CLF_ARRAY_LEN(ok); i++) {
        size_t size;
        uint8_t *f = mk(ok[i], 0, &size);
        clf__safetensors *st = parse_ok(f, size, ok[i]);
        cr_assert_eq(st->n_tensors, 0);
        cr_assert_eq(st->n_meta, 0);
        cr_assert_null(clf__st_find(st, "x"));
        clf__safetensors_free(st);
        free(f);
    }
}

Test(safetensors, short_files_and_bad_header_lengths)
{
    uint8_t small[8] = {0};
    for (size_t n = 0; n < 8; n++) {
        uint8_t *f = malloc(n ? n : 1);
        memcpy(f, small, n);
        expect_bad(f, n, "shorter than the 8-byte header length", "short file");
        free(f);
    }
    size_t size;
    uint8_t *f = mk("{}", 0, &size);
    memset(f, 0, 8);
    expect_bad(f, size, "header length is 0", "zero length");
    f[0] = 3;
    expect_bad(f, size, "runs past the end of the file", "length past end");
    uint64_t huge[] = {100000001u, 1ull << 32, 1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < CLF_ARRAY_LEN(huge); i++) {
        for (int b = 0; b < 8; b++)
            f[b] = (uint8_t)(huge[i] >> (8 * b));
        expect_bad(f, size, "exceeds the limit", "huge length");
    }
    free(f);
}

Test(safetensors, truncation_at_every_byte_is_rejected)
{
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}";
    size_t size;
    uint8_t *full = mk(json, 14, &size);
    clf__safetensors_free(parse_ok(full, size, "full"));
    for (size_t n = 0; n < size; n++) {
        /* Copy into a block of exactly n bytes so ASan catches overreads. */
        uint8_t *f = malloc(n ? n : 1);
        memcpy(f, full, n);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", n, size);
        expect_bad(f, n, "", what);
        free(f);
    }
    /* Also a header length one short / one long, with the same bytes. */
    full[0]--;
    expect_bad(full, size, "", "length one short");
    full[0] += 2;
    expect_bad(full, size, "", "length one long");
    free(full);
}

Test(safetensors, every_byte_mutation_is_ok_or_bad_model)
{
    const char *json = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                       "\"__metadata__\":{\"x\":\"y\"}}";
    size_t size;
    uint8_t *f = mk(json, 8, &size);
    static const uint8_t values[] = {0x00, 0x22, 0x2C, 0x30, 0x5B, 0x5C, 0x7B, 0x7D, 0x80, 0xFF};
    long live = clf__alloc_live();
    for (size_t i = 0; i < size; i++) {
        uint8_t saved = f[i];
        for (size_t v = 0; v < sizeof values; v++) {
            f[i] = values[v];
            clf__safetensors *st = NULL;
            clf_status s = clf__safetensors_parse(f, size, &st, NULL, 0);
            cr_assert(s == CLF_OK || s == CLF_ERR_BAD_MODEL, "byte %zu = 0x%02X: %s", i, values[v],
                      clf_status_name(s));
            clf__safetensors_free(st);
        }
        f[i] = saved;
    }
    cr_assert_eq(clf__alloc_live(), live, "no leak");
    free(f);
}

Test(safetensors, offsets_sizes_and_layout_are_checked)
{
    /* begin > end */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
             "begin 4 is after end 0");
    /* end past the data section */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 4,
             "run past the data section (4 bytes)");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,"
             "9223372036854775807]}}",
             4, "run past the data section");
    /* shape x dtype size != end - begin */
    bad_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
             "shape and dtype F32 give 24 bytes but data_offsets [0, 20) span 20");
    bad_json("{\"w.q\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
             "tensor \"w.q\": shape and dtype F16 give 8 bytes");
    /* overlap */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
             6, "tensor \"b\" [2, 6) overlaps tensor \"a\" [0, 4)");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
             4, "overlaps");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]}}",
             4, "tensor \"z\" [2, 2) overlaps");
    /* holes and uncovered bytes (the reference rejects them too) */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6,
             "unused bytes [0, 2) before tensor \"a\"");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
             5, "unused bytes [2, 3) before tensor \"b\"");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 3,
             "data section has 3 bytes but the tensors cover only [0, 2)");
    bad_json("{}", 1, "data section has 1 bytes");
}

Test(safetensors, names_dtypes_and_numbers_are_checked)
{
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
             2, "tensor name \"a\" appears twice");
    /* The same name spelled with an escape is the same name. */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"\\u0061\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
             2, "appears twice");
    bad_json("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16,
             "unknown dtype \"F128\"");
    bad_json("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "unknown dtype \"f32\"");
    bad_json("{\"a\":{\"dtype\":\"F32F32F32F32F32F32F32F32F32F32F32F32\",\"shape\":[1],"
             "\"data_offsets\":[0,4]}}",
             4, "unknown dtype (too long)");
    bad_json("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
             "expected the dtype (a string)");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1,
             "shape dimension is negative");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1,
             "is not an integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1,
             "is not an integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1, "leading zero");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}}", 1,
             "expected an integer shape dimension");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999],\"data_offsets\":[0,1]}}",
             1, "overflows a 64-bit integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808],\"data_offsets\":[0,1]}}", 1,
             "overflows a 64-bit integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551617]}}",
             1, "overflows a 64-bit integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}",
             1, "element count of its shape overflows");
    bad_json("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,1]}}",
             1, "byte size (4611686018427387904 elements of F64) overflows");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
             "more than 8 dimensions");
    /* A zero dim makes a huge product harmless, but never an overflow. */
    size_t size;
    uint8_t *f = mk("{\"a\":{\"dtype\":\"F64\",\"shape\":[9223372036854775807,0,"
                    "9223372036854775807],\"data_offsets\":[0,0]}}",
                    0, &size);
    clf__safetensors *st = parse_ok(f, size, "zero dim");
    cr_assert_eq(st->tensors[0].n_elements, 0);
    clf__safetensors_free(st);
    free(f);
}

Test(safetensors, entry_structure_is_checked)
{
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "entry lacks data_offsets");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "entry lacks shape");
    bad_json("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "entry lacks dtype");
    bad_json("{\"a\":{}}", 0, "empty entry");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
             "unknown key \"x\"");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
             "key dtype appears twice");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
             "expected ',' in data_offsets");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
             "expected ']' after the two data_offsets");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1,
             "expected '[' to open the shape");
    bad_json("{\"a\":5}", 0, "expected '{' to open a tensor entry");
    bad_json("{\"a\":[]}", 0, "expected '{' to open a tensor entry");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,],\"data_offsets\":[0,1]}}", 1,
             "expected an integer");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]\"data_offsets\":[0,1]}}", 1,
             "expected ',' or '}' in a tensor entry");
}

Test(safetensors, metadata_is_a_map_of_strings)
{
    bad_json("{\"__metadata__\":{\"a\":1}}", 0, "__metadata__ value of \"a\" is not a string");
    bad_json("{\"__metadata__\":{\"a\":null}}", 0, "is not a string");
    bad_json("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, "is not a string");
    bad_json("{\"__metadata__\":[\"a\"]}", 0, "must be an object of strings");
    bad_json("{\"__metadata__\":\"a\"}", 0, "must be an object of strings");
    bad_json("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    bad_json("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
             "__metadata__ key \"k\" appears twice");
    bad_json("{\"__metadata__\":{\"k\":\"\\u0000\"}}", 0, "NUL");
}

Test(safetensors, json_grammar_is_strict)
{
    bad_json("[]", 0, "expected '{' to open the header object");
    bad_json("\"x\"", 0, "expected '{'");
    bad_json("1", 0, "expected '{'");
    bad_json(" ", 0, "found the end of the header");
    bad_json("{", 0, "expected a tensor name");
    bad_json("{} x", 0, "trailing bytes after the header object");
    bad_json("{}{}", 0, "trailing bytes");
    bad_json("{}\x0c", 0, "trailing bytes"); /* form feed is not JSON whitespace */
    bad_json("{a:{}}", 0, "expected a tensor name (a string)");
    bad_json("{\"a\"{}}", 0, "expected ':' after a tensor name");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},}", 1,
             "expected a tensor name");
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]} \"b\":{}}", 1,
             "expected ',' or '}' in the header object");
    bad_json("{\"a", 0, "unterminated string");
    bad_json("{\"a\\", 0, "unterminated escape");
    bad_json("{\"a\\x\":{}}", 0, "invalid escape");
    bad_json("{\"a\\u12\":{}}", 0, "invalid \\u escape");
    bad_json("{\"a\\u12G4\":{}}", 0, "invalid \\u escape");
    bad_json("{\"a\\u0000\":{}}", 0, "\\u0000 (NUL) is not allowed");
    bad_json("{\"a\\ud800\":{}}", 0, "high surrogate \\uD800 without a low one");
    bad_json("{\"a\\ud800\\u0041\":{}}", 0, "without a low one");
    bad_json("{\"a\\udc00\":{}}", 0, "lone low surrogate");
    bad_json("{\"a\tb\":{}}", 0, "control character 0x09");
    bad_json("{\"__metadata__\":nul}", 0, "must be an object of strings");
}

Test(safetensors, header_must_be_valid_utf8)
{
    static const char *bad[] = {
        "{\"\xFF\":{}}",             /* invalid byte */
        "{\"\xC0\xAF\":{}}",         /* overlong '/' */
        "{\"\xE0\x80\xAF\":{}}",     /* overlong */
        "{\"\xED\xA0\x80\":{}}",     /* surrogate U+D800 */
        "{\"\xF4\x90\x80\x80\":{}}", /* above U+10FFFF */
        "{\"\x80\":{}}",             /* stray continuation */
        "{\"\xC3\":{}}",             /* truncated sequence */
        "{}\xE2\x82",                /* truncated at the end of the header */
    };
    for (size_t i = 0; i < CLF_ARRAY_LEN(bad); i++) {
        size_t size;
        uint8_t *f = mk(bad[i], 0, &size);
        expect_bad(f, size, "invalid UTF-8", bad[i]);
        free(f);
    }
    /* Valid multi-byte names of every length pass. */
    size_t size;
    uint8_t *f = mk("{\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],"
                    "\"data_offsets\":[0,1]}}",
                    1, &size);
    clf__safetensors *st = parse_ok(f, size, "utf8 name");
    cr_assert_str_eq(st->tensors[0].name, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    clf__safetensors_free(st);
    free(f);
}

Test(safetensors, deep_nesting_fails_fast_without_recursion)
{
    size_t depth = 1000000;
    char *json = malloc(depth * 2 + 16);
    size_t n = 0;
    json[n++] = '{';
    json[n++] = '"';
    json[n++] = 'a';
    json[n++] = '"';
    json[n++] = ':';
    for (size_t i = 0; i < depth; i++)
        json[n++] = i % 2 ? '[' : '{';
    size_t size;
    uint8_t *f = mk_raw(json, n, NULL, 0, &size);
    expect_bad(f, size, "expected a key of a tensor entry", "deep nesting");
    free(f);
    /* Nesting inside the shape array and the metadata. */
    bad_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[[[[[1]]]]],\"data_offsets\":[0,1]}}", 1,
             "expected an integer");
    bad_json("{\"__metadata__\":{\"k\":[[[[\"v\"]]]]}}", 0, "is not a string");
    free(json);
}

Test(safetensors, messages_fit_any_buffer_and_name_long_names)
{
    char name[400];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char json[600];
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,3]}}",
             name);
    size_t size;
    uint8_t *f = mk(json, 3, &size);
    char err[512];
    clf__safetensors *st = NULL;
    cr_assert_eq(clf__safetensors_parse(f, size, &st, err, sizeof err), CLF_ERR_BAD_MODEL);
    cr_assert(strstr(err, "nnnn...\""), "long names are cut: %s", err);
    cr_assert(strstr(err, "give 4 bytes"), "%s", err);
    char tiny[5] = "xxxx";
    cr_assert_eq(clf__safetensors_parse(f, size, &st, tiny, 1), CLF_ERR_BAD_MODEL);
    cr_assert_eq(tiny[0], '\0');
    cr_assert_eq(tiny[1], 'x', "nothing written past err_size");
    cr_assert_eq(clf__safetensors_parse(f, size, &st, NULL, 0), CLF_ERR_BAD_MODEL);
    cr_assert_eq(clf__safetensors_parse(f, size, NULL, err, sizeof err), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf__safetensors_parse(NULL, 4, &st, err, sizeof err), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf__safetensors_parse(NULL, 0, &st, err, sizeof err), CLF_ERR_BAD_MODEL);
    free(f);
}

Test(safetensors, allocation_failure_at_every_step_is_clean)
{
    const char *json = "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},"
                       "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"y\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                       "\"z\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[12,16]}}";
    size_t size;
    uint8_t *f = mk(json, 16, &size);
    long live = clf__alloc_live();
    int succeeded = 0;
    for (long n = 1; n < 200 && !succeeded; n++) {
        clf__safetensors *st = NULL;
        clf__alloc_fail_at(n);
        clf_status s = clf__safetensors_parse(f, size, &st, NULL, 0);
        clf__alloc_fail_at(0);
        cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "fail at %ld: %s", n,
                  clf_status_name(s));
        if (s == CLF_OK) {
            succeeded = 1;
            cr_assert_eq(st->n_tensors, 3);
            cr_assert_str_eq(clf__st_meta_get(st, "c"), "3");
        } else {
            cr_assert_null(st);
            cr_assert(strstr(clf_context_last_error(NULL), "out of host memory"));
        }
        clf__safetensors_free(st);
        cr_assert_eq(clf__alloc_live(), live, "fail at %ld: leak", n);
    }
    cr_assert(succeeded, "parse succeeds once allocations stop failing");
    /* Growth past the first capacity (16 entries) also fails cleanly. */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "{");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(big + o, sizeof big - o,
                              "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                              i ? "," : "", i, i, i + 1);
    snprintf(big + o, sizeof big - o, "}");
    free(f);
    f = mk(big, 40, &size);
    succeeded = 0;
    for (long n = 1; n < 200 && !succeeded; n++) {
        clf__safetensors *st = NULL;
        clf__alloc_fail_at(n);
        clf_status s = clf__safetensors_parse(f, size, &st, NULL, 0);
        clf__alloc_fail_at(0);
        cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "fail at %ld", n);
        succeeded = s == CLF_OK;
        if (succeeded) cr_assert_eq(st->n_tensors, 40);
        clf__safetensors_free(st);
        cr_assert_eq(clf__alloc_live(), live, "fail at %ld: leak", n);
    }
    cr_assert(succeeded);
    free(f);
}

/* ---- the file loader ---- */

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "%s", path);
    cr_assert_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

Test(safetensors, open_reads_a_file_and_reports_io_errors)
{
    char dir[512], path[600];
    clft_tempdir(dir, sizeof dir, "safetensors");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const float vals[3] = {1.5f, -2.0f, 0.25f};
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"v\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    size_t size;
    uint8_t *f = mk_raw(json, strlen(json), vals, sizeof vals, &size);
    write_file(path, f, size);
    long live = clf__alloc_live();
    clf__safetensors *st = NULL;
    char err[512];
    cr_assert_eq(clf__safetensors_open(path, &st, err, sizeof err), CLF_OK, "%s", err);
    const clf__st_tensor *t = clf__st_find(st, "v");
    cr_assert_not_null(t);
    float out[3];
    cr_assert_eq(clf__st_tensor_to_f32(t, out), CLF_OK);
    cr_assert_arr_eq(out, vals, sizeof vals);
    cr_assert_str_eq(clf__st_meta_get(st, "format"), "pt");
    clf__safetensors_free(st);
    cr_assert_eq(clf__alloc_live(), live, "no leak");

    /* A hostile file: BAD_MODEL with the path in the message, nothing kept. */
    f[size - 1] = 0;
    write_file(path, f, size - 1);
    cr_assert_eq(clf__safetensors_open(path, &st, err, sizeof err), CLF_ERR_BAD_MODEL);
    cr_assert_null(st);
    cr_assert(strstr(err, path) && strstr(err, "run past the data section"), "%s", err);
    write_file(path, f, 0);
    cr_assert_eq(clf__safetensors_open(path, &st, err, sizeof err), CLF_ERR_BAD_MODEL);
    cr_assert(strstr(err, "file is 0 bytes"), "%s", err);
    write_file(path, f, 5);
    cr_assert_eq(clf__safetensors_open(path, &st, err, sizeof err), CLF_ERR_BAD_MODEL);
    cr_assert_eq(clf__alloc_live(), live, "no leak");

    cr_assert_eq(clf__safetensors_open(dir, &st, err, sizeof err), CLF_ERR_IO);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    cr_assert_eq(clf__safetensors_open(path, &st, err, sizeof err), CLF_ERR_IO);
    cr_assert(strstr(err, "cannot open"), "%s", err);
    cr_assert_null(st);
    cr_assert_eq(clf__safetensors_open(NULL, &st, err, sizeof err), CLF_ERR_INVALID_ARG);
    free(f);
    clft_rmtree(dir);
}

/* ---- files that change or are not files ---- */

/* Truncates the file being opened to *(long *)arg bytes at stage want. */
static int trunc_stage;
static void truncate_hook(int stage, const char *path, void *arg)
{
    if (stage == trunc_stage) cr_assert_eq(truncate(path, *(long *)arg), 0, "truncate %s", path);
}

/* A file of one tensor "v": n elements of dtype (4 or 2 bytes each), so
 * that its data spans several pages past the header's. */
static void write_big(const char *path, const char *dtype, size_t elem, size_t n, long *hdr_end)
{
    char json[160];
    snprintf(json, sizeof json, "{\"v\":{\"dtype\":\"%s\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}",
             dtype, n, n * elem);
    size_t size;
    uint8_t *f = mk_raw(json, strlen(json), NULL, n * elem, &size);
    write_file(path, f, size);
    *hdr_end = (long)(8 + strlen(json));
    free(f);
}

/* A file truncated by another process while it loads: the header was read,
 * then the tensor's bytes are gone. A mapping raised SIGBUS here (the test
 * process died); reads make it CLF_ERR_BAD_MODEL naming the file. */
Test(safetensors, a_file_truncated_while_it_loads_is_bad_model_not_sigbus)
{
    char dir[512], path[600];
    clft_tempdir(dir, sizeof dir, "safetensors-trunc");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    static const struct {
        const char *dtype;
        size_t elem;
    } kinds[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}};
    for (int k = 0; k < 3; k++) {
        long cut;
        size_t n = 16384; /* 32..64 KiB of data: pages past the first */
        write_big(path, kinds[k].dtype, kinds[k].elem, n, &cut);
        cut += 4; /* the tensor's first 4 bytes stay */
        long live = clf__alloc_live();
        clf__safetensors *st = NULL;
        char err[512];
        trunc_stage = CLF__ST_HOOK_OPENED;
        clf__st_set_test_hook(truncate_hook, &cut);
        clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
        clf__st_set_test_hook(NULL, NULL);
        cr_assert_eq(s, CLF_OK, "%s: the header was whole when read: %s", kinds[k].dtype, err);
        const clf__st_tensor *t = clf__st_find(st, "v");
        cr_assert_not_null(t);
        cr_assert_null(t->data, "an opened file is not in memory");
        float *out = malloc(n * sizeof *out);
        s = clf__st_tensor_to_f32(t, out);
        const char *msg = clf_context_last_error(NULL);
        cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s: %s (%s)", kinds[k].dtype, clf_status_name(s), msg);
        cr_assert(strstr(msg, path) && strstr(msg, "truncated") && strstr(msg, "tensor v"),
                  "%s: message names the file, the tensor and the truncation: %s", kinds[k].dtype,
                  msg);
        cr_assert_eq(clf__st_tensor_read(t, out), CLF_ERR_BAD_MODEL);
        free(out);
        clf__safetensors_free(st);
        cr_assert_eq(clf__alloc_live(), live, "%s: leak", kinds[k].dtype);
    }
    /* Truncated between the length and the header: the header's bytes are
     * read, never touched past the new end. */
    long cut = 20;
    write_big(path, "F32", 4, 1024, &(long){0});
    trunc_stage = CLF__ST_HOOK_LENGTH;
    clf__st_set_test_hook(truncate_hook, &cut);
    clf__safetensors *st = (clf__safetensors *)1;
    char err[512];
    clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
    clf__st_set_test_hook(NULL, NULL);
    cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s (%s)", clf_status_name(s), err);
    cr_assert_null(st);
    cr_assert(strstr(err, path) && strstr(err, "truncated while it was read"), "%s", err);
    clft_rmtree(dir);
}

/* A FIFO where the file should be: open(O_RDONLY) waits for a writer
 * forever; it must be refused at once. The alarm fails the test (SIGALRM)
 * instead of hanging the suite if that regresses. */
Test(safetensors, a_fifo_is_refused_at_once_not_waited_on)
{
    char dir[512], path[600];
    clft_tempdir(dir, sizeof dir, "safetensors-fifo");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    clft_mkfifo(dir, "model.safetensors");
    double t0 = clft_now();
    alarm(5);
    clf__safetensors *st = (clf__safetensors *)1;
    char err[512];
    clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
    alarm(0);
    cr_assert_lt(clft_now() - t0, 1.0, "the FIFO took %.2f s to refuse", clft_now() - t0);
    cr_assert_eq(s, CLF_ERR_IO, "%s (%s)", clf_status_name(s), err);
    cr_assert_null(st);
    cr_assert(strstr(err, path) && strstr(err, "is a FIFO, not a regular file"), "%s", err);
    cr_assert_eq(clf__safetensors_open("/dev/zero", &st, err, sizeof err), CLF_ERR_IO);
    cr_assert(strstr(err, "/dev/zero is a character device, not a regular file"), "%s", err);
    clft_rmtree(dir);
}

/* ---- conversions ---- */

/* Independent references: the value from the bit fields by ldexp. */
static double ref_minifloat(unsigned bits, int exp_bits, int mant_bits)
{
    unsigned sign = bits >> (exp_bits + mant_bits) & 1;
    unsigned e = bits >> mant_bits & ((1u << exp_bits) - 1);
    unsigned m = bits & ((1u << mant_bits) - 1);
    int bias = (1 << (exp_bits - 1)) - 1;
    double v;
    if (e == (1u << exp_bits) - 1)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, 1 - bias - mant_bits);
    else
        v = ldexp((double)(m | 1u << mant_bits), (int)e - bias - mant_bits);
    return sign ? -v : v;
}

static void check_all(float (*conv)(uint16_t), int exp_bits, int mant_bits, const char *what)
{
    for (unsigned b = 0; b < 65536; b++) {
        float got = conv((uint16_t)b);
        double want = ref_minifloat(b, exp_bits, mant_bits);
        uint32_t gb;
        memcpy(&gb, &got, 4);
        int neg = (b & 0x8000) != 0;
        cr_assert_eq((gb >> 31) != 0, neg, "%s 0x%04X: sign", what, b);
        if (isnan(want)) {
            cr_assert(isnan(got), "%s 0x%04X: NaN", what, b);
            /* The payload moves to the top of the float mantissa. */
            uint32_t payload = b & ((1u << mant_bits) - 1);
            cr_assert_eq(gb & 0x7FFFFF, payload << (23 - mant_bits), "%s 0x%04X: payload", what, b);
        } else {
            cr_assert((double)got == want, "%s 0x%04X: got %a want %a", what, b, (double)got, want);
        }
    }
}

Test(safetensors, f16_to_f32_is_exact_on_all_patterns)
{
    check_all(clf__st_f16_to_f32, 5, 10, "f16");
}

Test(safetensors, bf16_to_f32_is_exact_on_all_patterns)
{
    check_all(clf__st_bf16_to_f32, 8, 7, "bf16");
}

Test(safetensors, convert_reads_unaligned_little_endian_and_rejects_other_dtypes)
{
    uint8_t buf[1 + 3 * 4];
    /* 1.0f, -2.5f, 65504 as f32 LE, starting at an odd address. */
    const uint32_t f32[3] = {0x3F800000u, 0xC0200000u, 0x477FE000u};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            buf[1 + 4 * i + k] = (uint8_t)(f32[i] >> (8 * k));
    float out[3];
    cr_assert_eq(clf__st_convert_f32(CLF__ST_F32, buf + 1, 3, out), CLF_OK);
    cr_assert(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65504.0f);
    const uint16_t f16[3] = {0x3C00, 0xC100, 0x7BFF}; /* 1, -2.5, 65504 */
    for (int i = 0; i < 3; i++) {
        buf[1 + 2 * i] = (uint8_t)f16[i];
        buf[2 + 2 * i] = (uint8_t)(f16[i] >> 8);
    }
    cr_assert_eq(clf__st_convert_f32(CLF__ST_F16, buf + 1, 3, out), CLF_OK);
    cr_assert(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65504.0f);
    const uint16_t bf16[3] = {0x3F80, 0xC020, 0x477F}; /* 1, -2.5, 65280 */
    for (int i = 0; i < 3; i++) {
        buf[1 + 2 * i] = (uint8_t)bf16[i];
        buf[2 + 2 * i] = (uint8_t)(bf16[i] >> 8);
    }
    cr_assert_eq(clf__st_convert_f32(CLF__ST_BF16, buf + 1, 3, out), CLF_OK);
    cr_assert(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65280.0f);
    out[0] = 7.0f;
    cr_assert_eq(clf__st_convert_f32(CLF__ST_I32, buf, 1, out), CLF_ERR_DTYPE);
    cr_assert(out[0] == 7.0f, "nothing written");

    size_t size;
    uint8_t *f = mk("{\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &size);
    clf__safetensors *st = parse_ok(f, size, "i32");
    cr_assert_eq(clf__st_tensor_to_f32(&st->tensors[0], out), CLF_ERR_DTYPE);
    cr_assert(strstr(clf_context_last_error(NULL), "tensor i is I32"), "%s",
              clf_context_last_error(NULL));
    clf__safetensors_free(st);
    free(f);
}
