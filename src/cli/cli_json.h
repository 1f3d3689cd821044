/*
 * The one JSON writer of the command line and the benchmark harness:
 * `clformer devices --json`, `selftest --json`, `run --json` and `bench
 * --json` build json-c trees with these helpers and print them here, so that
 * every output is valid JSON (RFC 8259) by construction.
 *
 * What json-c alone would get wrong, and these helpers fix:
 *   - json_object_new_double prints NaN as `NaN` and infinities as
 *     `Infinity` (not JSON; the hand-written printf("%.8g") before printed
 *     `nan` and `inf`). cli_json_number and cli_json_float give JSON null
 *     for them.
 *   - json-c prints doubles with "%.17g" (0.1 as 0.10000000000000001). These
 *     helpers store the shortest decimal text that reads back as the same
 *     value: 0.1 as 0.1, and 17 digits only where needed (0.1 + 0.2 as
 *     0.30000000000000004).
 *   - json-c escapes '/' as "\/" unless told not to; the print styles here
 *     do not.
 *
 * Ownership follows json-c: a helper returns a new reference, cli_json_set
 * and cli_json_push take over the reference they are given, cli_json_write
 * releases the whole tree. A helper that runs out of memory returns NULL
 * (which json-c also uses for null) and marks the tree being built as
 * failed; cli_json_write then prints nothing and returns -1, so an
 * allocation failure never prints `null` in place of a value.
 *
 * Thread rules: the failure mark is per thread; one tree must be built and
 * written by one thread. Numbers are formatted with the C library's printf
 * and strtod: the program must keep the "C" numeric locale (it never calls
 * setlocale).
 */
#ifndef CLF_CLI_JSON_H
#define CLF_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json_object.h>

/* How cli_json_write lays a document out. */
typedef enum cli_json_style {
    CLI_JSON_LINE,   /* compact, on one line: one record per line (run --json) */
    CLI_JSON_PRETTY, /* indented, "key": value (devices, selftest, bench) */
} cli_json_style;

/* New empty object / array; NULL when out of memory (the mark is set). */
json_object *cli_json_object(void);
json_object *cli_json_array(void);

/* A string; s == NULL gives null. s is copied; it should be UTF-8 (json-c
 * escapes '"', '\\' and control bytes and copies other bytes as they are). */
json_object *cli_json_string(const char *s);

json_object *cli_json_int(int64_t v);
json_object *cli_json_bool(bool v);

/* A double: null when v is NaN or infinite, else the shortest of "%.15g",
 * "%.16g", "%.17g" that strtod reads back as exactly v. */
json_object *cli_json_number(double v);

/* A float (a value computed in single precision, such as an embedding):
 * null when NaN or infinite, else the shortest of "%.6g" .. "%.9g" that
 * strtof reads back as exactly v (0.1f as 0.1, not 0.10000000149011612). */
json_object *cli_json_float(float v);

/* Adds val to object obj under key (a later value of the same key replaces
 * the earlier one), or appends val to array arr. They take val's reference
 * whatever happens: when obj/arr is NULL (a failed allocation) or the add
 * fails, val is released and the mark set. */
void cli_json_set(json_object *obj, const char *key, json_object *val);
void cli_json_push(json_object *arr, json_object *val);

/* Writes root's text and a newline to f, then releases root (NULL is
 * written as null). Returns 0; or 1 when an allocation failed while the
 * tree was built (nothing is written) or writing to f failed, after
 * printing "clformer <who>: cannot write the JSON output ..." to stderr
 * (who == NULL: no message). Clears the failure mark either way, for the
 * next tree. Does not flush f. */
int cli_json_write(FILE *f, json_object *root, cli_json_style style, const char *who);

#endif
