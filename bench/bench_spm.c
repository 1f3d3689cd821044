/*
 * Encode throughput of clformer's SentencePiece engine (src/text/spm_*.c),
 * one thread: lines/s over a text file, one encode call per line, as
 * tools/bench-spm.sh runs it beside sentencepiece (bench/bench_spm_ref.py)
 * in the same run.
 *
 *   build/bench/bench_spm TEXT_FILE MODEL.spm...   e.g.
 *   build/bench/bench_spm tests/golden/text/heldout.txt tests/golden/spm/unigram_bf.spm
 *
 * Each model: one warm-up pass, then passes until at least 2 s have run;
 * prints lines/s, MB/s of input and the ids made per pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/context.h>

#include "core/core.h"
#include "text/spm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TEXT_FILE MODEL.spm...\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    /* Lines as the golden generator splits them: at "\n", the final newline
     * ending the last line. */
    size_t n_lines = 0, cap = 1024;
    const char **line = malloc(cap * sizeof *line);
    size_t *len = malloc(cap * sizeof *len);
    for (char *p = text; p < text + size;) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(text + size - p);
        if (n_lines == cap) {
            cap *= 2;
            line = realloc(line, cap * sizeof *line);
            len = realloc(len, cap * sizeof *len);
        }
        line[n_lines] = p;
        len[n_lines++] = k;
        p += k + 1;
    }
    for (int a = 2; a < argc; a++) {
        clf__spm *m;
        if (clf__spm_load(argv[a], &m) != CLF_OK) {
            fprintf(stderr, "%s\n", clf_context_last_error(NULL));
            return 1;
        }
        clf__spm_ids v = {0};
        int64_t ids = 0;
        for (size_t i = 0; i < n_lines; i++) {
            v.n = 0;
            if (clf__spm_encode(m, line[i], len[i], &v) != CLF_OK) return 1;
            ids += v.n;
        }
        int passes = 0;
        double t0 = now(), t;
        do {
            for (size_t i = 0; i < n_lines; i++) {
                v.n = 0;
                clf__spm_encode(m, line[i], len[i], &v);
            }
            passes++;
            t = now() - t0;
        } while (t < 2.0);
        printf("clformer      %-40s %9.0f lines/s %7.2f MB/s  (%zu lines, %lld ids, %d passes)\n",
               argv[a], (double)n_lines * passes / t, (double)size * passes / t / 1e6, n_lines,
               (long long)ids, passes);
        clf__spm_ids_clear(&v);
        clf__spm_free(m);
    }
    free(line);
    free(len);
    free(text);
    return 0;
}
