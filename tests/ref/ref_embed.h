/* float64 references for clf_embedding and clf_positional_encoding. */
#ifndef CLFT_REF_EMBED_H
#define CLFT_REF_EMBED_H

#include <stdint.h>

/* Column d of the sinusoidal encoding of position pos for width D, written
 * the way the reference implementations write it:
 *   type 2 (CLF_POS_SINUSOIDAL, Vaswani et al. 2017):
 *     PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(same angle);
 *   type 3 (CLF_POS_SINUSOIDAL_CONCAT, HF MarianSinusoidalPositionalEmbedding):
 *     enc[pos, j] = pos / 10000^(2 (j // 2) / D), h = ceil(D / 2),
 *     PE[pos, :h] = sin(enc[pos, 0::2]), PE[pos, h:] = cos(enc[pos, 1::2]). */
double ref_sinusoid(int type, int64_t pos, int64_t d, int64_t D);

/* out (B*S, D) = scale * table[ids[b*S + s]] + position (pos_offset + s).
 * table (V, D) and pos_table (P, D) dense row-major; pos_type 0 none, 1
 * learned (pos_table), 2 / 3 as above. A row whose id is outside [0, V) is
 * all zeros. */
void ref_embedding(const double *table, int64_t V, int64_t D, const int32_t *ids, int64_t B,
                   int64_t S, double scale, int pos_type, const double *pos_table,
                   int64_t pos_offset, double *out);

/* out (S, D) = ref_sinusoid(type, offset + s, d, D). */
void ref_positional_encoding(int type, int64_t offset, int64_t S, int64_t D, double *out);

#endif
