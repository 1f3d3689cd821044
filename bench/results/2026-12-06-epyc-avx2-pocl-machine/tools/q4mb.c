#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>
/* replica of clf_gemv's Q4 pair loop: 2 rows per item, K=768; -DINT_ONLY: its integer part only
 * (the lanes summed in int32, no scaling) */
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int N=atoi(argv[1]), K=768, reps=atoi(argv[2]);
  unsigned char *B=aligned_alloc(64,(size_t)N*K/2); float *sB=aligned_alloc(64,(size_t)N*K/32*4);
  for(long i=0;i<(long)N*K/2;i++)B[i]=rand(); for(long i=0;i<(long)N*K/32;i++)sB[i]=1e-3f*(rand()%100);
  signed char aq[4096] __attribute__((aligned(64))); float asc[512] __attribute__((aligned(64))); int acor[512] __attribute__((aligned(64)));
  for(int i=0;i<4096;i++)aq[i]=rand()%255-127; for(int i=0;i<512;i++){asc[i]=0.01f;acor[i]=i%4?0:100;}
  float *out=malloc(N*4); const __m256i m4=_mm256_set1_epi8(15), one=_mm256_set1_epi16(1); const __m256i pidx=_mm256_setr_epi32(0,0,0,0,1,1,1,1);
  double best=1e9;
  for(int r=0;r<reps;r++){ double t0=now();
  for(int n=0;n<N;n+=2){
    __m256 f0=_mm256_setzero_ps(), f1=f0; __m256i i0=_mm256_setzero_si256(), i1=i0; (void)i0, (void)i1;
    const unsigned char *b0=B+(long)n*K/2, *b1=b0+K/2; const float *s0=sB+(long)n*K/32, *s1=s0+K/32;
    for(int p=0;p<K/64;p++){
      __m256 sa=_mm256_load_ps(asc+8*p); __m256i cor=_mm256_load_si256((const __m256i*)(acor+8*p));
      __m256i a0=_mm256_load_si256((const __m256i*)(aq+64*p)), a1=_mm256_load_si256((const __m256i*)(aq+64*p+32));
      _mm_prefetch((const char*)b0+32*p+2048,_MM_HINT_T0);
      __m256i v=_mm256_loadu_si256((const __m256i*)(b0+32*p));
      __m256i lo=_mm256_and_si256(v,m4), hi=_mm256_and_si256(_mm256_srli_epi16(v,4),m4);
      __m256i d=_mm256_sub_epi32(_mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo,a0),_mm256_maddubs_epi16(hi,a1)),one),cor);
#ifdef INT_ONLY
      i0=_mm256_add_epi32(i0,d);
#else
      __m256 sw=_mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double*)(s0+2*p)))),pidx);
      f0=_mm256_fmadd_ps(_mm256_cvtepi32_ps(d),_mm256_mul_ps(sw,sa),f0);
#endif
      _mm_prefetch((const char*)b1+32*p+2048,_MM_HINT_T0);
      v=_mm256_loadu_si256((const __m256i*)(b1+32*p));
      lo=_mm256_and_si256(v,m4); hi=_mm256_and_si256(_mm256_srli_epi16(v,4),m4);
      d=_mm256_sub_epi32(_mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo,a0),_mm256_maddubs_epi16(hi,a1)),one),cor);
#ifdef INT_ONLY
      i1=_mm256_add_epi32(i1,d);
#else
      sw=_mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double*)(s1+2*p)))),pidx);
      f1=_mm256_fmadd_ps(_mm256_cvtepi32_ps(d),_mm256_mul_ps(sw,sa),f1);
#endif
    }
#ifdef INT_ONLY
    f0=_mm256_cvtepi32_ps(i0); f1=_mm256_cvtepi32_ps(i1);
#endif
    __m128 h0=_mm_add_ps(_mm256_castps256_ps128(f0),_mm256_extractf128_ps(f0,1)); h0=_mm_hadd_ps(h0,h0); h0=_mm_hadd_ps(h0,h0);
    __m128 h1=_mm_add_ps(_mm256_castps256_ps128(f1),_mm256_extractf128_ps(f1,1)); h1=_mm_hadd_ps(h1,h1); h1=_mm_hadd_ps(h1,h1);
    out[n]=_mm_cvtss_f32(h0); out[n+1]=_mm_cvtss_f32(h1);
  }
  double t=now()-t0; if(t<best)best=t;}
  printf("N %d K %d: %.1f us, %.2f GMAC/s, %.1f cycles/iter@2.45GHz (%g)\n",N,K,best*1e6,(double)N*K/best*1e-9, best*2.45e9/((double)N/2*K/64), out[N-1]);
  return 0;}
