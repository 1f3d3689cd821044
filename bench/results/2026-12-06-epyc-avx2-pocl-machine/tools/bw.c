#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <immintrin.h>
#define SZ (256L<<20)
static float *buf[2]; static double res[2];
static void *run(void *p){ long id=(long)p; float *a=buf[id]; __m256 s0=_mm256_setzero_ps(),s1=s0,s2=s0,s3=s0;
 for(long i=0;i<SZ/4;i+=32){ s0=_mm256_add_ps(s0,_mm256_load_ps(a+i)); s1=_mm256_add_ps(s1,_mm256_load_ps(a+i+8)); s2=_mm256_add_ps(s2,_mm256_load_ps(a+i+16)); s3=_mm256_add_ps(s3,_mm256_load_ps(a+i+24)); }
 __m256 s=_mm256_add_ps(_mm256_add_ps(s0,s1),_mm256_add_ps(s2,s3)); res[id]=s[0]; return NULL; }
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){ int nt=atoi(argv[1]); for(int i=0;i<2;i++){buf[i]=aligned_alloc(64,SZ); for(long j=0;j<SZ/4;j++)buf[i][j]=1;}
 double best=1e9; for(int r=0;r<5;r++){ pthread_t t[2]; double t0=now(); for(long i=0;i<nt;i++)pthread_create(&t[i],0,run,(void*)i); for(int i=0;i<nt;i++)pthread_join(t[i],0); double dt=now()-t0; if(dt<best)best=dt;}
 printf("%d threads: %.1f GB/s (%g)\n", nt, nt*SZ/best/1e9, res[0]); return 0;}
