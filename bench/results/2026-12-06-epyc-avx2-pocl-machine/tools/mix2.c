#include <stdio.h>
#include <time.h>
#include <immintrin.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define V "+x"(y0),"+x"(y1),"+x"(y2),"+x"(y3),"+x"(y4),"+x"(y5),"+x"(y6),"+x"(y7),"+x"(y8),"+x"(y9)
int main(){ long n=50000000; const __m256 m=_mm256_set1_ps(0.9999f),c=_mm256_set1_ps(1e-6f);
 __m256 y0=_mm256_set1_ps(1),y1=_mm256_set1_ps(2),y2=_mm256_set1_ps(3),y3=_mm256_set1_ps(4),y4=_mm256_set1_ps(5),y5=_mm256_set1_ps(6),y6=_mm256_set1_ps(7),y7=_mm256_set1_ps(8),y8=_mm256_set1_ps(9),y9=_mm256_set1_ps(10);
#define F(x) x=_mm256_fmadd_ps(x,m,c);
 double t0=now(); for(long i=0;i<n;i++){ F(y0)F(y1)F(y2)F(y3)F(y4)F(y5)F(y6)F(y7)F(y8)F(y9) __asm__ volatile("":V); } double t=now()-t0; printf("ymm fma: %.2f /cycle\n", n*10/t/2.45e9);
 __m128 x0=_mm256_castps256_ps128(y0); 
 __m256i i0=_mm256_set1_epi32(1),i1=_mm256_set1_epi32(2),i2=_mm256_set1_epi32(3),i3=_mm256_set1_epi32(4),i4=_mm256_set1_epi32(5),i5=_mm256_set1_epi32(6),i6=_mm256_set1_epi32(7),i7=_mm256_set1_epi32(8);
 const __m256i one=_mm256_set1_epi32(1);
#define A(x) x=_mm256_add_epi32(x,one);
 t0=now(); for(long i=0;i<n;i++){ A(i0)A(i1)A(i2)A(i3)A(i4)A(i5)A(i6)A(i7) __asm__ volatile("":"+x"(i0),"+x"(i1),"+x"(i2),"+x"(i3),"+x"(i4),"+x"(i5),"+x"(i6),"+x"(i7)); } t=now()-t0; printf("ymm paddd: %.2f /cycle\n", n*8/t/2.45e9);
 __m128i j0=_mm_set1_epi16(1),j1=_mm_set1_epi16(2),j2=_mm_set1_epi16(3),j3=_mm_set1_epi16(4),j4=_mm_set1_epi16(5),j5=_mm_set1_epi16(6),j6=_mm_set1_epi16(7),j7=_mm_set1_epi16(8); const __m128i o16=_mm_set1_epi16(1);
#define W(x) x=_mm_madd_epi16(x,o16);
 t0=now(); for(long i=0;i<n;i++){ W(j0)W(j1)W(j2)W(j3)W(j4)W(j5)W(j6)W(j7) __asm__ volatile("":"+x"(j0),"+x"(j1),"+x"(j2),"+x"(j3),"+x"(j4),"+x"(j5),"+x"(j6),"+x"(j7)); } t=now()-t0; printf("xmm pmaddwd: %.2f /cycle\n", n*8/t/2.45e9);
 printf("%f %d %d\n", _mm256_cvtss_f32(_mm256_add_ps(y0,y9)), _mm256_extract_epi32(_mm256_add_epi32(i0,i7),0), _mm_extract_epi32(_mm_add_epi32(j0,j7),0)); (void)x0; return 0;}
