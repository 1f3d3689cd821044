#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now_s(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){
  clf_context_params cp=clf_context_params_default(); cp.device=argv[1];
  clf_context *ctx; if(clf_context_create(&cp,&ctx)!=CLF_OK) return 1;
  clf_model_params mp=clf_model_params_default(); mp.max_batch=1; mp.max_target_len=64; mp.weight_dtype=(clf_dtype)atoi(argv[2]);
  clf_model *m; double t0=now_s(); clf_status st;
  if(argc>3) st=clf_model_load(ctx,argv[3],&mp,&m); else { clf_model_config cfg; clf_model_config_preset("gpt2-small",&cfg); st=clf_model_create_random(ctx,&cfg,&mp,7,&m);}
  if(st!=CLF_OK){fprintf(stderr,"%s\n",clf_context_last_error(ctx));return 1;}
  clf_context_finish(ctx);
  printf("%.2f s\n",now_s()-t0); clf_model_free(m); clf_context_free(ctx); return 0;}
