/*
 * Host tests of the command line's one JSON writer (src/cli/cli_json.c):
 * what `devices`, `selftest`, `run` and `bench --json` print. Texts are
 * compared byte for byte; numbers are read back with strtod/strtof.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_json.h"
#include "common/testutil.h"

/* The text cli_json_write prints for root (released), without its final
 * newline; its status in *rc. The caller frees the text. */
static char *written(json_object *root, cli_json_style style, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *rc = cli_json_write(f, root, style, NULL);
    cr_assert_eq(fclose(f), 0);
    if (len > 0 && buf[len - 1] == '\n') buf[len - 1] = '\0';
    return buf;
}

/* The text of one value on its own (it must write). */
static char *text_of(json_object *v)
{
    int rc;
    char *t = written(v, CLI_JSON_LINE, &rc);
    cr_assert_eq(rc, 0, "cli_json_write failed for \"%s\"", t);
    return t;
}

static void expect_text(json_object *v, const char *want)
{
    char *t = text_of(v);
    cr_assert_str_eq(t, want);
    free(t);
}

/* Bits as a double / float, for values spread over the whole range. */
static double double_of(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static float float_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Significant digits of a number's text ("-0.00120e+5" has 3). */
static int digits(const char *t)
{
    int n = 0, leading = 1;
    for (; *t && *t != 'e'; t++) {
        if (*t < '0' || *t > '9') continue;
        if (*t == '0' && leading) continue;
        leading = 0;
        n++;
    }
    return n;
}

Test(cli_json, non_finite_numbers_are_null)
{
    /* The printf("%.8g") the writer replaced printed these as nan, inf and
     * -inf; json-c's own json_object_new_double prints NaN and Infinity:
     * neither is JSON. */
    json_object *o = cli_json_object();
    cli_json_set(o, "nan", cli_json_number(NAN));
    cli_json_set(o, "inf", cli_json_number(INFINITY));
    cli_json_set(o, "minus_inf", cli_json_number(-INFINITY));
    cli_json_set(o, "fnan", cli_json_float(NAN));
    cli_json_set(o, "finf", cli_json_float(-INFINITY));
    json_object *a = cli_json_array();
    cli_json_push(a, cli_json_float(1.5f));
    cli_json_push(a, cli_json_float(nanf("")));
    cli_json_push(a, cli_json_number(-0.0 / 0.0));
    cli_json_set(o, "vec", a);
    expect_text(o, "{\"nan\":null,\"inf\":null,\"minus_inf\":null,\"fnan\":null,\"finf\":null,"
                   "\"vec\":[1.5,null,null]}");
}

Test(cli_json, doubles_are_their_shortest_exact_text)
{
    expect_text(cli_json_number(0.1), "0.1");
    expect_text(cli_json_number(0.1 + 0.2), "0.30000000000000004");
    expect_text(cli_json_number(1.0 / 3.0), "0.3333333333333333");
    expect_text(cli_json_number(5.0), "5");
    expect_text(cli_json_number(-0.0), "-0");
    expect_text(cli_json_number(1e300), "1e+300");
    expect_text(cli_json_number(5e-324), "4.94065645841247e-324");
    expect_text(cli_json_number(1048576), "1048576");
    /* Random bit patterns: every exponent, subnormals included. */
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 1);
    for (int i = 0; i < 20000; i++) {
        double v = double_of(clft_next(&rng));
        if (!isfinite(v)) continue;
        char *t = text_of(cli_json_number(v));
        cr_assert_eq(strtod(t, NULL), v, "seed %llu: %.17g written as \"%s\"",
                     (unsigned long long)seed, v, t);
        /* No more digits than needed: when 15 or 16 read back, the text
         * has at most that many. */
        for (int p = 15; p <= 16; p++) {
            char shorter[40];
            snprintf(shorter, sizeof shorter, "%.*g", p, v);
            if (strtod(shorter, NULL) == v)
                cr_assert_leq(digits(t), p, "seed %llu: \"%s\" where \"%s\" reads back",
                              (unsigned long long)seed, t, shorter);
        }
        free(t);
    }
}

Test(cli_json, floats_are_their_shortest_exact_text_as_floats)
{
    /* run --json's embeddings: %.8g did not always read back as the same
     * float (9 digits are needed), and json-c's %.17g of the widened float
     * prints 0.1f as 0.10000000149011612. */
    expect_text(cli_json_float(0.1f), "0.1");
    expect_text(cli_json_float(-0.06334072f), "-0.06334072");
    expect_text(cli_json_float(16777216.0f), "16777216");
    /* 8 digits do not identify this float (0.010000004 reads back as its
     * neighbour); 9 do. */
    float nine = float_of(0x3c23d70eu);
    char eight[32];
    snprintf(eight, sizeof eight, "%.8g", (double)nine);
    cr_assert_neq(strtof(eight, NULL), nine);
    expect_text(cli_json_float(nine), "0.0100000035");
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 2);
    for (int i = 0; i < 20000; i++) {
        float v = float_of((uint32_t)clft_next(&rng));
        if (!isfinite(v)) continue;
        char *t = text_of(cli_json_float(v));
        cr_assert_eq(strtof(t, NULL), v, "seed %llu: %.9g written as \"%s\"",
                     (unsigned long long)seed, (double)v, t);
        cr_assert_leq(digits(t), 9, "seed %llu: \"%s\"", (unsigned long long)seed, t);
        free(t);
    }
}

Test(cli_json, strings_are_escaped_and_null_stays_null)
{
    expect_text(cli_json_string("a \"q\" \\ b/c \x01\t\n é 日本"),
                "\"a \\\"q\\\" \\\\ b/c \\u0001\\t\\n é 日本\"");
    expect_text(cli_json_string(NULL), "null");
    expect_text(cli_json_string(""), "\"\"");
    expect_text(cli_json_int(INT64_MIN), "-9223372036854775808");
    expect_text(cli_json_int(INT64_MAX), "9223372036854775807");
    expect_text(cli_json_bool(true), "true");
    expect_text(NULL, "null");
}

Test(cli_json, line_style_is_one_line_and_pretty_style_is_indented)
{
    json_object *o = cli_json_object(), *a = cli_json_array();
    cli_json_set(o, "index", cli_json_int(3));
    cli_json_push(a, cli_json_int(1));
    cli_json_push(a, cli_json_int(2));
    cli_json_set(o, "ids", a);
    cli_json_set(o, "finish", cli_json_string("eos"));
    json_object_get(o); /* written twice */
    int rc;
    char *line = written(o, CLI_JSON_LINE, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(line, "{\"index\":3,\"ids\":[1,2],\"finish\":\"eos\"}");
    char *pretty = written(o, CLI_JSON_PRETTY, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(pretty, "{\n  \"index\": 3,\n  \"ids\": [\n    1,\n    2\n  ],\n"
                             "  \"finish\": \"eos\"\n}");
    free(line);
    free(pretty);
}

Test(cli_json, a_failed_build_writes_nothing_and_the_next_tree_is_clean)
{
    /* A parent that could not be allocated (NULL): adding to it marks the
     * tree failed, as an allocation failure inside a helper does. The write
     * must fail and print nothing, never a "null" in place of the value. */
    json_object *o = cli_json_object();
    cli_json_set(o, "a", cli_json_int(1));
    cli_json_set(NULL, "lost", cli_json_string("value"));
    int rc;
    char *t = written(o, CLI_JSON_LINE, &rc);
    cr_assert_eq(rc, 1);
    cr_assert_str_eq(t ? t : "", "");
    free(t);
    json_object *arr = cli_json_array();
    cli_json_push(NULL, cli_json_int(2));
    t = written(arr, CLI_JSON_LINE, &rc);
    cr_assert_eq(rc, 1);
    free(t);
    /* The mark was cleared by the failed writes. */
    expect_text(cli_json_int(7), "7");
}
