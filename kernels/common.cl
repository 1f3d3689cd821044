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
