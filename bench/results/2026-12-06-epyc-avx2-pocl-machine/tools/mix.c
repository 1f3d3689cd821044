#include <stdio.h>
#include <time.h>
#include <immintrin.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define R8(OP) y0=OP(y0);y1=OP(y1);y2=OP(y2);y3=OP(y3);y4=OP(y4);y5=OP(y5);y6=OP(y6);y7=OP(y7);
int main(){ long n=50000000; const __m256i w=_mm256_set1_epi8(2), one=_mm256_set1_epi16(1);
 __m256i y0=_mm256_set1_epi8(1),y1=_mm256_set1_epi8(2),y2=_mm256_set1_epi8(3),y3=_mm256_set1_epi8(4),y4=_mm256_set1_epi8(5),y5=_mm256_set1_epi8(6),y6=_mm256_set1_epi8(7),y7=_mm256_set1_epi8(8);
#define MW(x) _mm256_madd_epi16(x,one)
#define MB(x) _mm256_maddubs_epi16(w,x)
 double t0=now(); for(long i=0;i<n;i++){ R8(MW) __asm__ volatile("":"+x"(y0),"+x"(y1),"+x"(y2),"+x"(y3),"+x"(y4),"+x"(y5),"+x"(y6),"+x"(y7)); } double t=now()-t0; printf("pmaddwd: %.2f /cycle\n", n*8/t/2.45e9);
 t0=now(); for(long i=0;i<n;i++){ R8(MB) __asm__ volatile("":"+x"(y0),"+x"(y1),"+x"(y2),"+x"(y3),"+x"(y4),"+x"(y5),"+x"(y6),"+x"(y7)); } t=now()-t0; printf("pmaddubsw: %.2f /cycle\n", n*8/t/2.45e9);
 __m256i s=_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(y0,y1),_mm256_add_epi32(y2,y3)),_mm256_add_epi32(_mm256_add_epi32(y4,y5),_mm256_add_epi32(y6,y7))); printf("%d\n",_mm256_extract_epi32(s,0)); return 0;}
