/*
 * clformer: the command line. `clformer <command> [options]`; each command
 * lives in its own file and has its own --help.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "cli/cli_args.h"

static void bench_usage(FILE *out)
{
    char *argv[] = {"bench", "--help", NULL};
    (void)out;
    bench_main(2, argv);
}

static const cli_command commands[] = {
    {"devices", "list OpenCL devices, their capabilities and which one is selected",
     cli_devices, cli_devices_usage},
    {"selftest", "build every kernel (cold or from the cache) and run a check on a device",
     cli_selftest, cli_selftest_usage},
    {"bench", "benchmark ops and whole stacks on every device: ceilings, timings, roofline",
     bench_main, bench_usage},
    {"tune", "autotune the kernels' tiles and work-group sizes for a device and store them",
     cli_tune, cli_tune_usage},
    {"run", "run a model folder: embed, classify or generate", cli_run, cli_run_usage},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: clformer [--help] [--version] [-v | -vv | -q] <command> "
            "[options]\n\n"
            "Transformer encoder and decoder stacks on any OpenCL device.\n\n"
            "global options (before the command):\n"
            "  -v, --verbose  the library's info messages on stderr: device choice, kernel\n"
            "                 builds and cache loads with their times, model loads (-vv: debug,\n"
            "                 adds every disk cache hit, miss and write)\n"
            "  -q, --quiet    only the library's error messages (no warnings)\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nRun `clformer <command> --help` for a command's options.\n\n"
            "environment:\n"
            "  CLFORMER_DEVICE      device selection: best, gpu, dgpu, igpu, cpu, P:D or a name\n"
            "  CLFORMER_CACHE_DIR   binary cache folder (\"\" = no disk cache)\n"
            "  CLFORMER_KERNEL_DIR  read kernels/*.cl from this folder instead of the library\n"
"  CLFORMER_TUNE       0 = ignore the values `clformer tune` stored (use the defaults)\n"
            "  CLFORMER_LOG         the library's messages on stderr: error, warn (default), info\n"
            "                       or debug; -v, -vv and --quiet override it\n");
}

int cli_fail(const char *what, clf_status st, const char *detail)
{
    fprintf(stderr, "clformer: %s: %s", what, clf_status_str(st));
    if (detail && *detail) fprintf(stderr, ": %s", detail);
    fputc('\n', stderr);
    return 1;
}

int cli_getopt(const char *command, int argc, char **argv, const struct option *opts,
               void (*usage)(FILE *))
{
    char err[512] = "";
    opterr = 0; /* the messages are ours */
    int c = getopt_long(argc, argv, ":", opts, NULL);
    if (c == '?' || c == ':') cli_option_message(c, argc, argv, err, sizeof err);
    else if (c == -1 && optind < argc)
        snprintf(err, sizeof err, "unexpected argument \"%s\"", argv[optind]);
    if (!err[0]) return c;
    fprintf(stderr, "clformer %s: %s\n", command, err);
    usage(stderr);
    return -2;
}

/* The global options before the command: sets the library's log level and
 * returns how many arguments they took, or -1 after a message for an
 * unknown one. */
static int global_options(int argc, char **argv)
{
    int used = 0, verbose = 0, quiet = 0;
    for (int a = 1; a < argc && argv[a][0] == '-'; a++, used++) {
        const char *o = argv[a];
        if (strcmp(o, "-v") == 0 || strcmp(o, "--verbose") == 0) {
            verbose++;
        } else if (strcmp(o, "-vv") == 0) {
            verbose += 2;
        } else if (strcmp(o, "--quiet") == 0 || strcmp(o, "-q") == 0) {
            quiet = 1;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0 ||
                   strcmp(o, "--version") == 0) {
            break;
        } else {
            fprintf(stderr, "clformer: unknown option \"%s\" before the command\n\n", o);
            usage(stderr);
            return -1;
        }
    }
    if (quiet && verbose) {
        fprintf(stderr, "clformer: --quiet and --verbose contradict each other\n");
        return -1;
    }
    if (!quiet && !verbose) return used;
    clf_log_level level = quiet ? CLF_LOG_ERROR : verbose > 1 ? CLF_LOG_DEBUG : CLF_LOG_INFO;
    clf_set_log_level(level);
    /* And for the processes this one starts (bench --start measures a cold
     * start in a child): still one thread here, so setenv is safe. */
    setenv("CLFORMER_LOG", quiet ? "error" : verbose > 1 ? "debug" : "info", 1);
    return used;
}

int main(int argc, char **argv)
{
    int globals = global_options(argc, argv);
    if (globals < 0) return 2;
    argv[globals] = argv[0];
    argc -= globals;
    argv += globals;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("clformer %s\n", clf_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        for (int a = 2; a < argc; a++) {
            if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
                commands[i].usage(stdout);
                return 0;
            }
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "clformer: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
