/*
 * Prelude of every clformer program. Build options from the runtime:
 *   CLF_HAS_FP16         1 when the device has cl_khr_fp16 (half arithmetic)
 *   CLF_DEVICE_CPU/GPU   the device class
 *   CLF_LOCAL_MEM_BYTES  local memory per work-group
 *   CLF_MAX_WORK_GROUP   largest work-group
 * Every program must also build with no option of its own (defaults via
 * #ifndef), so that clf_context_build_all() can prebuild it.
 *
 * Storage types: tensors are stored as f32 or f16. f16 storage needs no
 * extension: vload_half/vstore_half are core OpenCL 1.2 and compute in f32.
 */
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
 * 8 halves at a time, for any element offset. On CPUs (PoCL 3.1):
 * vload_half8 / vstore_half8 on global memory fault on an address that is
 * not 16-byte aligned (the spec asks for 2), vstore_half8_rte is a slow
 * scalar sequence, and vload8 / vstore8 of ushort8 become eight 16-bit moves.
 * So the bits move as one ushort8 through a 2-byte-aligned vector type (one
 * unaligned vector access) and convert in aligned private memory, which
 * compiles to the F16C instructions: exact f16 -> f32, and f32 -> f16 with
 * vstore_half8, whose default rounding is to nearest even (as _rte).
 */
#if defined(CLF_DEVICE_CPU) && CLF_DEVICE_CPU
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
