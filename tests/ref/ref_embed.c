/* float64 references for embeddings and sinusoidal positions (plain C). */
#include "ref/ref_embed.h"

#include <math.h>

double ref_sinusoid(int type, int64_t pos, int64_t d, int64_t D)
{
    if (type == 2) {
        int64_t i = d / 2;
        double angle = (double)pos / pow(10000.0, (double)(2 * i) / (double)D);
        return d % 2 == 0 ? sin(angle) : cos(angle);
    }
    /* HF Marian: column d < h takes enc column j = 2d through sin; column
     * d >= h takes enc column j = 2 (d - h) + 1 through cos. */
    int64_t h = (D + 1) / 2;
    int64_t j = d < h ? 2 * d : 2 * (d - h) + 1;
    double enc = (double)pos / pow(10000.0, (double)(2 * (j / 2)) / (double)D);
    return d < h ? sin(enc) : cos(enc);
}

void ref_embedding(const double *table, int64_t V, int64_t D, const int32_t *ids, int64_t B,
                   int64_t S, double scale, int pos_type, const double *pos_table,
                   int64_t pos_offset, double *out)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++) {
            int32_t id = ids[b * S + s];
            double *o = out + (b * S + s) * D;
            for (int64_t d = 0; d < D; d++) {
                if (id < 0 || id >= V) {
                    o[d] = 0.0;
                    continue;
                }
                double v = scale * table[(int64_t)id * D + d];
                int64_t p = pos_offset + s;
                if (pos_type == 1) v += pos_table[p * D + d];
                else if (pos_type >= 2) v += ref_sinusoid(pos_type, p, d, D);
                o[d] = v;
            }
        }
}

void ref_positional_encoding(int type, int64_t offset, int64_t S, int64_t D, double *out)
{
    for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) out[s * D + d] = ref_sinusoid(type, offset + s, d, D);
}
