#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d: %s\n",#x,s_,clf_context_last_error(ctx));exit(1);}}while(0)
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
/* usage: q4ab dev dtype envname valA valB [norm] */
int main(int argc,char**argv){ int MR=getenv("MR")?atoi(getenv("MR")):1;
  clf_context_params cp=clf_context_params_default(); cp.device=argv[1];
  clf_context*ctx=NULL; CK(clf_context_create(&cp,&ctx));
  int dt=atoi(argv[2]); const char*env=argv[3]; const char*va=argv[4],*vb=argv[5]; int norm=argc>6?atoi(argv[6]):0;
  int shapes[][2]={{2304,768},{768,768},{3072,768},{768,3072}};
  for(int s=0;s<4;s++){
    int64_t N=shapes[s][0],K=shapes[s][1];
    float*w=malloc(N*K*4); for(int64_t i=0;i<N*K;i++)w[i]=(float)((i*2654435761u)%1000)/1000.0f-0.5f;
    float*a=malloc(MR*K*4); for(int i=0;i<MR*K;i++)a[i]=(float)(i%17)/17.0f-0.4f;
    clf_tensor A,B,C,G,X; int64_t sa[2]={MR,K},sb[2]={N,K},sc[2]={MR,N},sg[1]={K};
    CK(clf_tensor_create(ctx,CLF_F32,2,sa,&A)); CK(clf_tensor_create(ctx,(clf_dtype)dt,2,sb,&B)); CK(clf_tensor_create(ctx,CLF_F32,2,sc,&C));
    CK(clf_tensor_create(ctx,CLF_F32,1,sg,&G)); CK(clf_tensor_create(ctx,CLF_F32,2,sa,&X));
    CK(clf_tensor_write_f32(ctx,&A,a,MR*K)); CK(clf_tensor_write_f32(ctx,&B,w,N*K)); CK(clf_tensor_write_f32(ctx,&G,a,K)); if(dt==3){clf_tensor P; CK(clf_gemm_pack_b(ctx,&B,&P)); clf_tensor_free(&B); B=P;}
    clf_gemm_params gp=clf_gemm_params_default(); gp.trans_b=true;
    static clf_gemm_norm gn; if(norm){ gn.norm.type=CLF_NORM_LAYER; gn.norm.eps=1e-5f; gn.gamma=&G; gn.normed=&X; gp.norm=&gn; }
    int R=N>10000?4:(MR>1?6:40); enum{RR=21}; double t[2][RR];
    for(int r=-1;r<RR;r++) for(int v=0;v<2;v++){ setenv(env,v?vb:va,1);
      double t0=now(); for(int i=0;i<R;i++)CK(clf_gemm(ctx,&A,&B,&C,&gp)); CK(clf_context_finish(ctx)); if(r>=0)t[v][r]=(now()-t0)/R;}
    double d[RR]; for(int r=0;r<RR;r++)d[r]=t[1][r]/t[0][r];
    qsort(t[0],RR,8,cmp);qsort(t[1],RR,8,cmp);qsort(d,RR,8,cmp);
    printf("%6lld x %5lld: %s=%s median %7.1f us  %s=%s median %7.1f us  paired ratio B/A median %.3f (q1 %.3f q3 %.3f)\n",(long long)N,(long long)K,env,va,t[0][RR/2]*1e6,env,vb,t[1][RR/2]*1e6,d[RR/2],d[RR/4],d[3*RR/4]);
    fflush(stdout);
    clf_tensor_free(&A);clf_tensor_free(&B);clf_tensor_free(&C);clf_tensor_free(&G);clf_tensor_free(&X);free(w);free(a);
  }
  clf_context_free(ctx);
}
