#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now_s(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  const char *dev=argv[1]; int wt=atoi(argv[2]); int rounds=argc>3?atoi(argv[3]):10;
  const char *preset=argc>4?argv[4]:"gpt2-small";
  clf_model *m[2]; clf_context *c[2];
  for(int k=0;k<2;k++){
    setenv("CLFORMER_HUGE_PAGES",k?getenv("HPB"):getenv("HPA"),1);
    clf_context_params cp=clf_context_params_default(); cp.device=dev;
    if(clf_context_create(&cp,&c[k])!=CLF_OK) return 1;
    clf_model_config cfg; clf_model_config_preset(preset,&cfg);
    clf_model_params mp=clf_model_params_default(); mp.max_batch=1; mp.max_target_len=64; mp.weight_dtype=(clf_dtype)wt;
    if(clf_model_create_random(c[k],&cfg,&mp,7,&m[k])!=CLF_OK){fprintf(stderr,"%s\n",clf_context_last_error(c[k]));return 1;}
  }
  int32_t prompt[16]; for(int i=0;i<16;i++) prompt[i]=100+i*7; int32_t out[2][64]={{0}};
  clf_generate_params p=clf_generate_params_default(); p.ignore_eos=true; p.max_new_tokens=32;
  double ts[2][64], ratio[64];
  for(int r=-1;r<rounds;r++){
    for(int k=0;k<2;k++){
      clf_generate_output o={out[k],NULL,NULL,NULL,NULL};
      double t0=now_s(); if(clf_model_generate(m[k],prompt,NULL,1,16,&p,&o)!=CLF_OK){fprintf(stderr,"%s\n",clf_context_last_error(c[k]));return 1;}
      if(r>=0) ts[k][r]=32/(now_s()-t0);
    }
    if(r>=0){ratio[r]=ts[0][r]/ts[1][r]; printf("round %d: huge %.1f  plain %.1f tok/s  ratio %.3f\n",r,ts[0][r],ts[1][r],ratio[r]);}
  }
  if(memcmp(out[0],out[1],sizeof out[0])) printf("OUTPUTS DIFFER\n");
  qsort(ts[0],rounds,sizeof(double),cmpd);qsort(ts[1],rounds,sizeof(double),cmpd);qsort(ratio,rounds,sizeof(double),cmpd);
  printf("median: huge %.1f plain %.1f tok/s, median per-round ratio %.3f\n",ts[0][rounds/2],ts[1][rounds/2],ratio[rounds/2]);
  return 0;}
