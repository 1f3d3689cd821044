/* float64 reference for clf_attention (tests/ref/ref_attention.c). */
#ifndef CLFT_REF_ATTENTION_H
#define CLFT_REF_ATTENTION_H

#include <stdint.h>

/* Scaled dot-product multi-head attention in double precision.
 * q and o are dense row-major (B, Lq, H, D); k and v dense (B, Lk, H, D).
 * Query i of batch b sees key j when
 *   j < clamp(key_lens[b], 0, Lk)   (key_lens NULL: every key), and
 *   j <= i + Lk - Lq                (causal only).
 * A query that sees no key gets zeros. visible (NULL or B*Lq*H entries,
 * row-major over (b, i, h)) receives the number of keys each row saw, so a
 * test can demand exact zeros for the empty rows. */
void clft_ref_attention(int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t D, const float *q,
                        const float *k, const float *v, double scale, int causal,
                        const int32_t *key_lens, double *o, int64_t *visible);

#endif
