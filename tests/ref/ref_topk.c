/* References for argmax and top-k: a full sort of each row (plain C). */
#include "ref/ref_topk.h"

#include <math.h>
#include <stdlib.h>

typedef struct entry {
    float v;
    int32_t i;
} entry;

/* Negative when a comes first. */
static int before(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn) return an ? 1 : -1;
    if (!an && a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

void ref_argmax(const float *x, int64_t R, int64_t V, int32_t *idx)
{
    for (int64_t r = 0; r < R; r++) {
        entry best = {x[r * V], 0};
        for (int64_t c = 1; c < V; c++) {
            entry e = {x[r * V + c], (int32_t)c};
            if (before(&e, &best) < 0) best = e;
        }
        idx[r] = best.i;
    }
}

void ref_topk(const float *x, int64_t R, int64_t V, int64_t k, double *values, int32_t *indices)
{
    entry *row = malloc((size_t)V * sizeof *row);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t c = 0; c < V; c++) row[c] = (entry){x[r * V + c], (int32_t)c};
        qsort(row, (size_t)V, sizeof *row, before);
        for (int64_t j = 0; j < k; j++) {
            values[r * k + j] = row[j].v;
            indices[r * k + j] = row[j].i;
        }
    }
    free(row);
}
