#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define CK(x) do{clf_status s_=(x); if(s_){fprintf(stderr,"%s failed %d\n",#x,s_);exit(1);}}while(0)
int main(int argc,char**argv){
  clf_context_params cp=clf_context_params_default(); cp.device="0:0";
  clf_context*ctx; CK(clf_context_create(&cp,&ctx));
  clf_model_config cfg; CK(clf_model_config_preset("gpt2-small",&cfg));
  clf_dtype dts[]={CLF_F32,CLF_F16,CLF_Q8,CLF_Q4};
  clf_model_params mp=clf_model_params_default(); mp.max_batch=1; mp.max_target_len=1024; mp.weight_dtype=dts[atoi(argv[2])];
  clf_model*m; CK(clf_model_create_random(ctx,&cfg,&mp,1234,&m));
  static int32_t ids[4096],out_ids[4096]; int S=atoi(argv[1]); for(int i=0;i<S;i++)ids[i]=1000+37*(i%97);
  clf_generate_params gp=clf_generate_params_default(); gp.max_new_tokens=1; gp.ignore_eos=true;
  double best=1e9; for(int r=0;r<4;r++){clf_generate_output out={.ids=out_ids}; double t0=now(); CK(clf_model_generate(m,ids,NULL,1,S,&gp,&out)); double t=now()-t0; if(r&&t<best)best=t;}
  printf("prompt %d w%s: first token %.1f ms (id %d)\n",S,argv[2],best*1e3,out_ids[0]);
  return 0;}
