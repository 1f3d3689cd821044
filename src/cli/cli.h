/* The clformer command line: one file per subcommand, sharing these helpers. */
#ifndef CLF_CLI_H
#define CLF_CLI_H

#include <stdio.h>

#include <clformer/clformer.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    void (*usage)(FILE *out);
} cli_command;

int cli_devices(int argc, char **argv);
void cli_devices_usage(FILE *out);
int cli_selftest(int argc, char **argv);
void cli_selftest_usage(FILE *out);
int cli_tune(int argc, char **argv);
void cli_tune_usage(FILE *out);
int cli_run(int argc, char **argv);
void cli_run_usage(FILE *out);

/* Prints "clformer: <what>: <status>: <detail>" to stderr; returns 1. */
int cli_fail(const char *what, clf_status st, const char *detail);

/* getopt_long over a subcommand's argv (argv[0] = its name) for options
 * without positional arguments: the next option's val, -1 at the end, or -2
 * after printing "clformer <command>: unknown option ..." (or "... needs a
 * value", "unexpected argument ...") and the usage to stderr. */
struct option;
int cli_getopt(const char *command, int argc, char **argv, const struct option *opts,
               void (*usage)(FILE *));

#endif
