#include <clformer/clformer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now_s(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  const char *dev=argv[1]; int rounds=atoi(argv[2]); int B=atoi(argv[3]), S=atoi(argv[4]); const char*preset=argv[5]; int wt=argc>6?atoi(argv[6]):0;
  clf_model *m[2]; clf_context *c[2]; clf_model_config cfg;
  for(int k=0;k<2;k++){
    setenv("CLFORMER_HUGE_PAGES",k?getenv("HPB"):getenv("HPA"),1);
    clf_context_params cp=clf_context_params_default(); cp.device=dev;
    if(clf_context_create(&cp,&c[k])!=CLF_OK) return 1;
    clf_model_config_preset(preset,&cfg);
    clf_model_params mp=clf_model_params_default(); mp.max_batch=B; mp.max_source_len=S; mp.weight_dtype=(clf_dtype)wt;
    if(clf_model_create_random(c[k],&cfg,&mp,7,&m[k])!=CLF_OK){fprintf(stderr,"%s\n",clf_context_last_error(c[k]));return 1;}
  }
  int32_t *ids=malloc(sizeof(int32_t)*B*S), *len=malloc(sizeof(int32_t)*B); for(int i=0;i<B*S;i++) ids[i]=100+(i*7)%1000; for(int b=0;b<B;b++) len[b]=S;
  float *hid[2]; for(int k=0;k<2;k++) hid[k]=calloc((size_t)B*S*cfg.d_model,4);
  double ts[2][64], ratio[64];
  for(int r=-2;r<rounds;r++){
    for(int k=0;k<2;k++){
      double t0=now_s(); if(clf_model_encode(m[k],ids,len,B,S,CLF_POOL_FIRST,hid[k],NULL,NULL)!=CLF_OK){fprintf(stderr,"%s\n",clf_context_last_error(c[k]));return 1;}
      if(r>=0) ts[k][r]=(now_s()-t0)*1e3;
    }
    if(r>=0) ratio[r]=ts[0][r]/ts[1][r];
  }
  if(memcmp(hid[0],hid[1],(size_t)B*S*cfg.d_model*4)) printf("OUTPUTS DIFFER\n");
  qsort(ts[0],rounds,sizeof(double),cmpd);qsort(ts[1],rounds,sizeof(double),cmpd);qsort(ratio,rounds,sizeof(double),cmpd);
  printf("%s B%d S%d: median A %.1f ms  B %.1f ms, median per-round time ratio A/B %.3f\n",preset,B,S,ts[0][rounds/2],ts[1][rounds/2],ratio[rounds/2]);
  return 0;}
