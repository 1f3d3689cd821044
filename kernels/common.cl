/*
 * Prelude of every clformer program. Build options from the runtime:
 *   CLF_HAS_FP16         1 when the device has cl_khr_fp16 (half arithmetic)
 *   CLF_HALF_UNALIGNED   1 when the driver's vload_halfN/vstore_halfN need N*2-byte
 *                        alignment (a quirk-table workaround: PoCL)
 *   CLF_LOCAL_MEM_BYTES  local memory per work-group
 *   CLF_MAX_WORK_GROUP   largest work-group
 * Every program must also build with no option of its own (defaults via
 * #ifndef), so that clf_context_build_all() can prebuild it.
 *
 * Storage types: tensors are stored as f32 or f16. f16 storage needs no
 * extension: vload_half/vstore_half are core OpenCL 1.2 and compute in f32.
 */
/* Clang (PoCL's compiler) warns that 16-wide vectors returned by built-ins (convert_float16,
 * convert_int16, ...) "change the ABI" on x86 CPUs without AVX-512; the calls are inlined in
 * one module, so nothing crosses an ABI, and the warning only reached the user's stderr
 * (PoCL prints build logs) and failed program::every_kernel_file_compiles_without_warnings on
 * an AVX2 machine. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpsabi"
#endif

#ifndef CLF_HAS_FP16
#define CLF_HAS_FP16 0
#endif
#if CLF_HAS_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif

/* Load/store one element of a buffer whose storage is f16 (1) or f32 (0). */
#define CLF_LOAD_F16(p, i) vload_half((i), (p))
#define CLF_STORE_F16(p, i, v) vstore_half_rte((v), (i), (p))
#define CLF_LOAD_F32(p, i) ((p)[(i)])
#define CLF_STORE_F32(p, i, v) ((p)[(i)] = (v))

/* Raises a device-side error through the context's error word (int[4]:
 * code, value, index, limit); the first raiser wins and the host reports it
 * at the next clf_context_finish() or blocking read. */
void clf_raise(__global int *word, int code, int value, int index, int limit)
{
    if (atomic_cmpxchg(word, 0, code) == 0) {
        word[1] = value;
        word[2] = index;
        word[3] = limit;
    }
}

/*
 * 8 halves at a time, for any element offset. With CLF_HALF_UNALIGNED (PoCL 3.1):
 * vload_half8 / vstore_half8 on global memory fault on an address that is
 * not 16-byte aligned (the spec asks for 2), vstore_half8_rte is a slow
 * scalar sequence, and vload8 / vstore8 of ushort8 become eight 16-bit moves.
 * So the bits move as one ushort8 through a 2-byte-aligned vector type (one
 * unaligned vector access) and convert in aligned private memory, which
 * compiles to the F16C instructions: exact f16 -> f32, and f32 -> f16 with
 * vstore_half8, whose default rounding is to nearest even (as _rte).
 */
#if defined(CLF_HALF_UNALIGNED) && CLF_HALF_UNALIGNED
typedef ushort8 __attribute__((aligned(2))) clf_ushort8_u;

float8 clf_load_half8(const __global half *p)
{
    const ushort8 u = *(const __global clf_ushort8_u *)p;
    return vload_half8(0, (const __private half *)&u);
}

void clf_store_half8(const float8 v, __global half *p)
{
    ushort8 u;
    vstore_half8(v, 0, (__private half *)&u);
    *(__global clf_ushort8_u *)p = u;
}
#define CLF_LOADU16(p) (*(const __global clf_ushort8_u *)(p))
#define CLF_STOREU16(p, u) (*(__global clf_ushort8_u *)(p) = (u))
#else
float8 clf_load_half8(const __global half *p) { return vload_half8(0, p); }
void clf_store_half8(const float8 v, __global half *p) { vstore_half8_rte(v, 0, p); }
#define CLF_LOADU16(p) vload8(0, (const __global ushort *)(p))
#define CLF_STOREU16(p, u) vstore8((u), 0, (__global ushort *)(p))
#endif

/*
 * exp for float8 in plain FMAs (Cephes expf): PoCL's library exp on float8
 * is several times slower. x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in
 * two so that r is exact), e^r by a degree-6 minimax polynomial, 2^n put
 * into the exponent bits. About 1 ulp over the normal range.
 * clf_exp8_finite: x is clamped to [-87.3, 88.7] (so below e^-87.3 the result
 * is about 1e-38, not 0, and a NaN gives a finite value): for arguments whose
 * caller does not care (the GELU's erfc multiplies the result by t <= 1 and
 * takes NaN through v itself). clf_exp8: below -87.3 the result is 0, above
 * 88.7 inf, NaN stays NaN.
 */
inline float8 clf_exp8_finite(const float8 x)
{
    const float8 xc = clamp(x, -87.33654f, 88.72283f);
    const float8 n = rint(xc * 1.44269504088896341f);
    float8 r = fma(n, (float8)-0.693359375f, xc);
    r = fma(n, (float8)2.12194440e-4f, r);
    float8 p = fma(r, (float8)1.9875691500e-4f, (float8)1.3981999507e-3f);
    p = fma(p, r, (float8)8.3334519073e-3f);
    p = fma(p, r, (float8)4.1665795894e-2f);
    p = fma(p, r, (float8)1.6666665459e-1f);
    p = fma(p, r, (float8)5.0000001201e-1f);
    p = fma(p, r * r, r + 1.0f);
    const int8 e = (convert_int8(n) + 127) << 23;
    return p * as_float8(e);
}

inline float8 clf_exp8(const float8 x)
{
    float8 y = clf_exp8_finite(x);
    y = select(y, (float8)0.0f, x < -87.33654f);
    y = select(y, (float8)INFINITY, x > 88.72283f);
    return select(y, x, isnan(x));
}

/* The GELU (erf form) in float8 arithmetic, as 0.5 v erfc(-v / sqrt 2)
 * without cancellation: see EW_GELU_BODY in elementwise.cl for the formula
 * and its accuracy. Used by elementwise.cl and by gemm_common.cl's epilogue (PoCL's
 * library erf is a scalar call that cost more than the GEMM producing it). */
inline float8 clf_gelu8(const float8 v)
{
    const float8 a = fabs(v) * M_SQRT1_2_F;
    const float8 t = 1.0f / fma((float8)0.5f, a, (float8)1.0f);
    float8 p = fma(t, (float8)0.17087277f, (float8)-0.82215223f);
    p = fma(t, p, (float8)1.48851587f);
    p = fma(t, p, (float8)-1.13520398f);
    p = fma(t, p, (float8)0.27886807f);
    p = fma(t, p, (float8)-0.18628806f);
    p = fma(t, p, (float8)0.09678418f);
    p = fma(t, p, (float8)0.37409196f);
    p = fma(t, p, (float8)1.00002368f);
    p = fma(t, p, (float8)-1.26551223f);
    const float8 hi = v * v;
    const float8 lo = fma(v, v, -hi);
    const float8 e = t * clf_exp8_finite(fma((float8)-0.5f, hi, p) - 0.5f * lo);
    const float8 c = select(2.0f - e, e, v < 0.0f);
    return 0.5f * v * c;
}
