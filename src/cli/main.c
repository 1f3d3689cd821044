/*
 * clformer: the command line. `clformer <command> [options]`; each command
 * lives in its own file and has its own --help.
 */
#include <getopt.h>
#include <stdio.h>
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
    {"run", "run a model folder: embed, classify or generate", cli_run, cli_run_usage},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: clformer [--help] [--version] <command> [options]\n\n"
            "Transformer encoder and decoder stacks on any OpenCL device.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nRun `clformer <command> --help` for a command's options.\n\n"
            "environment:\n"
            "  CLFORMER_DEVICE      device selection: best, gpu, dgpu, igpu, cpu, P:D or a name\n"
            "  CLFORMER_CACHE_DIR   binary cache folder (\"\" = no disk cache)\n"
            "  CLFORMER_KERNEL_DIR  read kernels/*.cl from this folder instead of the library\n");
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

int main(int argc, char **argv)
{
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
