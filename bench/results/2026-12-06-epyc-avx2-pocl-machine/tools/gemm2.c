#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d: %s\n",#x,s_,clf_context_last_error(ctx));exit(1);}}while(0)
int main(int argc,char**argv){
  int M=atoi(argv[1]),N=atoi(argv[2]),K=atoi(argv[3]),q=atoi(argv[4]); int reps=argc>5?atoi(argv[5]):20;
  clf_context_params cp=clf_context_params_default(); cp.device=getenv("DEV")?getenv("DEV"):"0:0"; cp.profiling=1;
  clf_context*ctx=NULL; CK(clf_context_create(&cp,&ctx));
  float*w=malloc(sizeof(float)*N*K); srand(1); for(long i=0;i<(long)N*K;i++)w[i]=rand()/(float)RAND_MAX-0.5f;
  clf_tensor a,b,c,bp; clf_dtype dt=q==8?CLF_Q8:q==4?CLF_Q4:CLF_F32;
  CK(clf_tensor_create(ctx,CLF_F32,2,(int64_t[]){M,K},&a)); CK(clf_tensor_fill_uniform(ctx,&a,5,-1,1));
  CK(clf_tensor_create(ctx,CLF_F32,2,(int64_t[]){M,N},&c));
  CK(clf_tensor_create(ctx,dt,2,(int64_t[]){N,K},&b));
  CK(clf_tensor_write_f32(ctx,&b,w,(int64_t)N*K));
  clf_tensor *B=&b; if(q!=4){CK(clf_gemm_pack_b(ctx,&b,&bp));B=&bp;}
  clf_gemm_params p=clf_gemm_params_default(); p.trans_b=true;
  double t[200]; static clf_profile_record rec[64]; size_t n; for(int r=-2;r<reps;r++){CK(clf_context_profile(ctx,rec,64,&n));CK(clf_gemm(ctx,&a,B,&c,&p));CK(clf_context_finish(ctx));CK(clf_context_profile(ctx,rec,64,&n));if(r>=0){t[r]=0;for(size_t i=0;i<n;i++)t[r]+=rec[i].seconds;}}
  for(int i=1;i<reps;i++)for(int j=i;j>0&&t[j]<t[j-1];j--){double x=t[j];t[j]=t[j-1];t[j-1]=x;}
  printf("M%d N%d K%d q%d: median %.3f min %.3f ms  %.1f GMAC/s(min)\n",M,N,K,q,t[reps/2]*1e3,t[0]*1e3,(double)M*N*K/t[0]*1e-9);
  return 0;}
