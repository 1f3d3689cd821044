#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d: %s\n",#x,s_,clf_context_last_error(ctx));exit(1);}}while(0)
int main(int argc,char**argv){
  clf_context*ctx=NULL; clf_context_params cp=clf_context_params_default(); cp.device=getenv("DEV")?getenv("DEV"):"0:0"; CK(clf_context_create(&cp,&ctx));
  int64_t s[2]={1,768}; clf_tensor a,b; CK(clf_tensor_create(ctx,CLF_F32,2,s,&a)); CK(clf_tensor_create(ctx,CLF_F32,2,s,&b));
  CK(clf_tensor_fill(ctx,&a,1.0f));
  for(int r=0;r<5;r++){ double t0=now(); for(int i=0;i<1000;i++) CK(clf_scale(ctx,&a,1.0f,&b)); double t1=now(); CK(clf_context_finish(ctx)); double t2=now();
    printf("1000 scales: enqueue %.1f us each, total %.1f us each\n",(t1-t0)*1e3,(t2-t0)*1e3);}
  return 0;}
