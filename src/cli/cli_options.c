/*
 * What every subcommand's option parsing shares (cli_args.h), `clformer
 * bench` included: the one parser of numeric option values, and the text of
 * getopt_long's errors. atoi/atof/strtol used directly accepted "1x" as 1,
 * "1e3" as 1 and "nan" as a temperature; every numeric option now goes
 * through cli_number, which takes the whole string or nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.h"

/* The range in words, for messages: "1..4096", "> 0", "in (0, 1]". */
static void describe(cli_num_rule r, char *buf, size_t n)
{
    if (!r.real)
        snprintf(buf, n, "an integer in %.0f..%.0f", r.lo, r.hi);
    else if (r.hi >= 1e300)
        snprintf(buf, n, "a number %s %g", r.lo_open ? ">" : ">=", r.lo);
    else
        snprintf(buf, n, "a number in %c%g, %g]", r.lo_open ? '(' : '[', r.lo, r.hi);
}

bool cli_number(const char *option, const char *text, cli_num_rule rule, double *out, char *err,
                size_t errlen)
{
    char want[96];
    describe(rule, want, sizeof want);
    /* Only these characters may appear: strtod alone would also take
     * leading space, "nan", "inf" and hexadecimal floats. */
    const char *ok = rule.real ? "0123456789+-.eE" : "0123456789+-";
    bool good = text && *text && strspn(text, ok) == strlen(text);
    double v = 0;
    if (good) {
        char *end = NULL;
        errno = 0;
        if (rule.real) {
            v = strtod(text, &end);
        } else {
            long long i = strtoll(text, &end, 10);
            v = (double)i;
            /* Integers stay exact in a double only up to 2^53. */
            if (i > (1LL << 53) || i < -(1LL << 53)) errno = ERANGE;
        }
        good = end && *end == '\0' && errno == 0 && isfinite(v);
    }
    if (good) good = (rule.lo_open ? v > rule.lo : v >= rule.lo) && v <= rule.hi;
    if (!good) {
        snprintf(err, errlen, "%s: \"%s\" is not %s", option, text ? text : "", want);
        return false;
    }
    *out = v;
    return true;
}

void cli_option_message(int c, int argc, char *const *argv, char *err, size_t errlen)
{
    /* A long option that failed advanced optind past itself; a short one
     * ("-x") sets optopt to its letter. */
    const char *arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    if (c == ':') snprintf(err, errlen, "option %s needs a value", arg);
    else if (optopt > 0 && optopt < 128) snprintf(err, errlen, "unknown option -%c", optopt);
    else snprintf(err, errlen, "unknown option \"%s\"", arg);
}
