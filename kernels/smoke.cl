/*
 * smoke_axpy: y[i] = a * x[i] + y[i], the smallest useful kernel; the CLI's
 * selftest runs it to prove the device computes.
 * Launch: 1-D, global >= n (any multiple of the local size), any local size.
 * One work-item: one element. Needs no extension.
 */
__kernel void smoke_axpy(const int n, const float a, __global const float *x,
                         __global float *y)
{
    const int i = (int)get_global_id(0);
    if (i < n) y[i] = a * x[i] + y[i];
}
