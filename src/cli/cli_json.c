/*
 * The JSON writer shared by the command line and the benchmark harness
 * (cli_json.h): json-c trees, with numbers stored as their shortest exact
 * decimal text and non-finite numbers as null.
 */
#include <math.h>
#include <stdlib.h>

#include <json-c/json_object.h>

#include "cli/cli_json.h"

/* Set when a helper could not allocate; cli_json_write reads and clears it. */
static _Thread_local bool failed;

static json_object *made(json_object *o)
{
    if (!o) failed = true;
    return o;
}

json_object *cli_json_object(void) { return made(json_object_new_object()); }

json_object *cli_json_array(void) { return made(json_object_new_array()); }

json_object *cli_json_string(const char *s) { return s ? made(json_object_new_string(s)) : NULL; }

json_object *cli_json_int(int64_t v) { return made(json_object_new_int64(v)); }

json_object *cli_json_bool(bool v) { return made(json_object_new_boolean(v)); }

/* The number with its text: json_object_new_double_s prints the text as
 * given instead of json-c's "%.17g" (which also writes NaN and Infinity). */
static json_object *with_text(double v, const char *text)
{
    return made(json_object_new_double_s(v, text));
}

json_object *cli_json_number(double v)
{
    if (!isfinite(v)) return NULL;
    char text[32];
    /* 17 significant digits always read back exactly; fewer usually do. */
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    return with_text(v, text);
}

json_object *cli_json_float(float v)
{
    if (!isfinite(v)) return NULL;
    char text[32];
    /* 9 significant digits always read back as the same float. */
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    return with_text((double)v, text);
}

void cli_json_set(json_object *obj, const char *key, json_object *val)
{
    if (!obj || json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        failed = true;
    }
}

void cli_json_push(json_object *arr, json_object *val)
{
    if (!arr || json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        failed = true;
    }
}

int cli_json_write(FILE *f, json_object *root, cli_json_style style, const char *who)
{
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                (style == CLI_JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                          : JSON_C_TO_STRING_PLAIN);
    bool built = !failed, written = false;
    if (built) {
        /* The text lives inside root until root is released. */
        const char *text = json_object_to_json_string_ext(root, flags);
        written = text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    }
    failed = false;
    json_object_put(root);
    if (written) return 0;
    if (who)
        fprintf(stderr, "clformer %s: cannot write the JSON output: %s\n", who,
                built ? "output error" : "out of memory");
    return 1;
}
