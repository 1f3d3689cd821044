/*
 * Tokenizer encode throughput, single thread: encodes every line of a text
 * file (split on LF only) with clf_tokenizer_encode, line by line, and
 * prints lines/s. bench/bench_tokenizer.py runs it beside HF `tokenizers`
 * on the same lines in the same run.
 *
 *   bench_tokenizer TOKENIZER_PATH TEXT_FILE [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_PATH TEXT_FILE [REPEATS]\n", argv[0]);
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.max_length = 1 << 20;
    clf_tokenizer *t;
    if (clf_tokenizer_load(argv[1], &p, &t) != CLF_OK) {
        fprintf(stderr, "%s\n", clf_context_last_error(NULL));
        return 1;
    }
    int32_t *ids = malloc(sizeof *ids << 20);
    double best = 1e30;
    long lines = 0, n_ids = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_s();
        lines = n_ids = 0;
        for (long i = 0, start = 0; i < size; i++)
            if (buf[i] == '\n') {
                int64_t n;
                if (clf_tokenizer_encode(t, buf + start, (size_t)(i - start), ids, 1 << 20, &n) !=
                    CLF_OK) {
                    fprintf(stderr, "%s\n", clf_context_last_error(NULL));
                    return 1;
                }
                n_ids += (long)n;
                lines++;
                start = i + 1;
            }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    printf("clformer %s: %ld lines, %ld ids, best of %d: %.1f ms = %.0f lines/s\n",
           clf_tokenizer_kind_of(t) == CLF_TOKENIZER_KIND_BPE ? "bpe" : "tokenizer", lines, n_ids,
           repeats, best * 1e3, (double)lines / best);
    clf_tokenizer_free(t);
    free(ids);
    free(buf);
    return 0;
}
