/*
 * The order statistics every bench program shares: the ascending comparator
 * for qsort on doubles and the median of a sample (sorted in place; the mean
 * of the two middle values when n is even).
 */
#ifndef CLF_BENCH_STATS_H
#define CLF_BENCH_STATS_H

#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v (n >= 1) ascending and returns its median. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
